"""Staging uploads: stream to a temporary file, hash while streaming, detect, optimize.

Nothing of an upload is visible until LocalStore publishes the staged file as a blob; on any
error the staged file is removed. Memory stays flat: bytes pass through in 1 MiB pieces.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from PIL import Image

from rokkafs.errors import InvalidImage, PayloadTooLarge
from rokkafs.formats import detect
from rokkafs.model import ImageInfo, SourceImage
from rokkafs.store.blobs import CHUNK, BlobStorage, Digests, file_digests

__all__ = [
    "HandedOver",
    "Staged",
    "detect_staged",
    "discard",
    "new_source_image",
    "optimize_staged",
    "read_chunks",
    "stage_chunks",
]

_OPTIMIZABLE = ("tiff", "psd")


@dataclass(frozen=True, slots=True)
class Staged:
    """A complete staging file and what is known about it.

    ``binary_hash`` is the sha1 of the bytes as uploaded; ``blob_id`` the sha1 of the bytes
    that will be stored (different only after ``optimize_source``). ``synced`` is an fsync of
    the file still running (:func:`fsync_soon`); None means its bytes are durable already.
    Whoever publishes the file calls :meth:`wait_durable` first.
    """

    path: Path
    binary_hash: str
    blob_id: str
    size: int
    info: ImageInfo | None = None
    synced: Future[None] | None = None
    md5: str | None = None  # (of the bytes to store; None: not known, computed when needed)

    def wait_durable(self) -> None:
        """Return once the bytes are on disk (raises the fsync's error if it failed)."""
        if self.synced is not None:
            self.synced.result()


class HandedOver(io.BufferedReader):
    """A complete staging file given to ``Store.create_source_image`` together with its sha1
    (and the fsync already running on it, if any: ``synced`` as in :class:`Staged`).

    Any store can read it like any stream; LocalStore, on the same filesystem, moves the file
    into place instead of copying and hashing it again. So the caller must not use ``path``
    after the upload, only remove it if it is still there.
    """

    def __init__(self, staged: Staged) -> None:
        super().__init__(io.FileIO(staged.path, "rb"))
        self.staged = staged


def read_chunks(data: IO[bytes]) -> Iterator[bytes]:
    """Yield a stream's bytes in 1 MiB pieces."""
    while chunk := data.read(CHUNK):
        yield chunk


def stage_chunks(blobs: BlobStorage, chunks: Iterable[bytes], *, max_bytes: int) -> Staged:
    """Write chunks to a new staging file, hashing them.

    Raises:
        PayloadTooLarge: more than ``max_bytes`` arrived (the staging file is removed).
    """
    handle, path = blobs.new_staging_file()
    digests = Digests()
    size = 0
    try:
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
                digests.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    binary_hash = digests.sha1.hexdigest()
    return Staged(path, binary_hash, binary_hash, size, md5=digests.md5.hexdigest())


def detect_staged(staged: Staged, *, max_pixels: int, non_image_types: Iterable[str]) -> Staged:
    """Return the staged upload with its detected :class:`ImageInfo`."""
    info = detect(staged.path, max_pixels=max_pixels, non_image_types=non_image_types)
    return replace(staged, info=info)


def optimize_staged(blobs: BlobStorage, staged: Staged, mode: str) -> Staged:
    """Apply ``optimize_source`` to a staged TIFF or PSD; other formats pass unchanged.

    ``"true"`` recompresses losslessly (TIFF stays TIFF with deflate, PSD becomes PNG);
    ``"jpg"`` converts to high-quality JPEG (WebP when the image has transparency); ``"png"``
    converts to PNG. The staged original is replaced; ``binary_hash`` stays the original's.

    Raises:
        InvalidImage: the image cannot be decoded.
    """
    assert staged.info is not None
    if staged.info.format not in _OPTIMIZABLE:
        return staged
    handle, target = blobs.new_staging_file()
    try:
        with handle, Image.open(staged.path) as opened:
            image: Image.Image = opened
            if staged.info.format == "tiff" and mode == "true":
                image.save(handle, "TIFF", compression="tiff_adobe_deflate", save_all=True)
            elif mode == "jpg" and staged.info.opaque:
                image.convert("RGB").save(handle, "JPEG", quality=95)
            elif mode == "jpg":
                image.save(handle, "WEBP", quality=95)
            else:
                if image.mode not in ("1", "L", "LA", "I", "P", "RGB", "RGBA"):
                    image = image.convert("RGB" if staged.info.opaque else "RGBA")
                image.save(handle, "PNG", optimize=True)
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, ValueError) as exc:
        target.unlink(missing_ok=True)
        raise InvalidImage(f"cannot optimize the {staged.info.format} source: {exc}") from exc
    staged.path.unlink(missing_ok=True)
    blob_id, md5 = file_digests(target)
    optimized = Staged(target, staged.binary_hash, blob_id, target.stat().st_size, md5=md5)
    info = detect(target, max_pixels=1 << 62, non_image_types=())
    return replace(optimized, info=info)


def discard(staged: Staged | None) -> None:
    """Remove a staging file that was not published."""
    if staged is not None:
        staged.path.unlink(missing_ok=True)


def new_source_image(
    org: str,
    staged: Staged,
    *,
    image_hash: str,
    short_hash: str,
    name: str,
    user_metadata: Mapping[str, object],
    dynamic_metadata: Mapping[str, Mapping[str, object]],
    protected: bool,
    now: float,
    mtime: float | None,
) -> SourceImage:
    """The record of a new source image made from a detected staged upload."""
    info = staged.info
    if info is None:
        raise ValueError("the staged upload was not detected")
    return SourceImage(
        organization=org,
        hash=image_hash,
        short_hash=short_hash,
        binary_hash=staged.binary_hash,
        name=name,
        format=info.format,
        mimetype=info.mimetype,
        size=staged.size,
        width=info.width,
        height=info.height,
        created=datetime.fromtimestamp(int(now), tz=UTC),
        mtime=now if mtime is None else mtime,
        user_metadata=user_metadata,
        dynamic_metadata=dynamic_metadata,
        protected=protected,
        opaque=info.opaque,
        animated=info.animated,
        md5=staged.md5,
    )
