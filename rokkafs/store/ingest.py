"""What a store does with a staged upload (:mod:`rokkafs.staging`): detect, optimize, make
its record.

Nothing of an upload is visible until LocalStore publishes the staged file as a blob; on any
error the staged file is removed. Memory stays flat: bytes pass through in 1 MiB pieces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from PIL import Image

from rokkafs.errors import InvalidImage
from rokkafs.model import SourceImage
from rokkafs.staging import Staged, file_digests
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.formats import detect

__all__ = ["detect_staged", "discard", "new_source_image", "optimize_staged"]

_OPTIMIZABLE = ("tiff", "psd")


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
            if blobs.syncs_staging:
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
