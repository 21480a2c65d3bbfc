"""Committing a staged upload into LocalStore: detect, optimize, hash, publish, record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from rokkafs.errors import PayloadTooLarge
from rokkafs.metadata import compute_hash
from rokkafs.model import SourceImage
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.config import OptimizeSource, StoreConfig
from rokkafs.store.index import MetadataIndex, StoredImage
from rokkafs.store.ingest import Staged, detect_staged, discard, new_source_image, optimize_staged
from rokkafs.store.lookups import existing_row, require_org, short_hash_for
from rokkafs.store.records import reuploaded

__all__ = ["UploadRequest", "adopt_file", "commit_upload"]


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """A validated upload: where, under which name, with which metadata and options."""

    org: str
    name: str
    user_metadata: Mapping[str, object]
    dynamic_metadata: Mapping[str, Mapping[str, object]]
    optimize_source: OptimizeSource | None = None
    protected: bool = False
    mtime: float | None = None


def commit_upload(
    index: MetadataIndex,
    blobs: BlobStorage,
    config: StoreConfig,
    request: UploadRequest,
    staged: Staged,
    *,
    now: float,
) -> SourceImage:
    """Turn a staged upload into a source image, or re-find the image it already is.

    The blob is published and the records written in one exclusive index transaction; the
    staging file is removed whatever happens.
    """
    try:
        staged = detect_staged(
            staged, max_pixels=config.max_pixels, non_image_types=config.non_image_types
        )
        if request.optimize_source is not None:
            staged = optimize_staged(blobs, staged, request.optimize_source)
        image_hash = compute_hash(
            staged.binary_hash, request.dynamic_metadata, protected=request.protected
        )
        with index.write() as tx:
            require_org(tx, request.org)
            existing = existing_row(tx, request.org, image_hash)
            if existing is not None:
                image = reuploaded(
                    existing.image, request.name, request.user_metadata, request.mtime
                )
                tx.put_image(replace(existing, image=image))
                return image
            image = new_source_image(
                request.org,
                staged,
                image_hash=image_hash,
                short_hash=short_hash_for(tx, request.org, image_hash),
                name=request.name,
                user_metadata=request.user_metadata,
                dynamic_metadata=request.dynamic_metadata,
                protected=request.protected,
                now=now,
                mtime=request.mtime,
            )
            blobs.publish(staged.path, staged.blob_id)
            tx.add_blob(staged.blob_id, staged.size)
            tx.put_image(StoredImage(image, staged.blob_id))
            return image
    finally:
        discard(staged)


def adopt_file(
    blobs: BlobStorage, path: Path, binary_hash: str, *, max_bytes: int
) -> Staged | None:
    """A caller's complete file (with its sha1) as a staged upload, moved rather than copied;
    None when the blob storage cannot take it over.

    Raises:
        PayloadTooLarge: the file is over ``max_bytes`` (it is left alone).
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
    adopted = blobs.adopt_staging_file(path)
    return None if adopted is None else Staged(adopted, binary_hash, binary_hash, size)
