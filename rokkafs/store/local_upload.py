"""Committing a staged upload into LocalStore: detect, optimize, hash, publish, record."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from rokkafs.errors import PayloadTooLarge
from rokkafs.model import SourceImage
from rokkafs.rokka.metadata import compute_hash
from rokkafs.staging import Staged, fsync_soon
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.blobs.publication import Publication, commit_with_blob
from rokkafs.store.config import OptimizeSource, StoreConfig
from rokkafs.store.index import IndexTransaction, MetadataIndex, StoredImage
from rokkafs.store.ingest import detect_staged, discard, new_source_image, optimize_staged
from rokkafs.store.lookups import require_file_name, require_org, row_and_short_hash
from rokkafs.store.path_write import path_scope, write_in_index
from rokkafs.store.records import reuploaded

__all__ = ["PathWrite", "UploadRequest", "adopt_file", "commit_path_write", "commit_upload"]


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


@dataclass(frozen=True, slots=True)
class PathWrite:
    """A file face's write of one path (see :mod:`rokkafs.store.path_write`)."""

    org: str
    name: str
    replacing: str | None
    mtime: float | None


def commit_path_write(
    index: MetadataIndex,
    blobs: BlobStorage,
    config: StoreConfig,
    write: PathWrite,
    staged: Staged,
    *,
    now: float,
    trash_cutoff: float,
    require_org: Callable[[IndexTransaction, str], object] = require_org,
) -> SourceImage:
    """Detect a staged upload and make it the file at ``write.name``, deciding what it
    replaces inside one path write's index transaction; the staging file is removed whatever
    happens. (``require_org``: the store's check, which remembers organizations it saw.)"""
    try:
        staged = detect_staged(
            staged, max_pixels=config.max_pixels, non_image_types=config.non_image_types
        )
        staged.wait_durable()  # (outside the write lock: parallel uploads flush in parallel)

        def body(tx: IndexTransaction, publication: Publication) -> SourceImage:
            require_org(tx, write.org)
            return write_in_index(
                tx,
                publication,
                org=write.org,
                name=write.name,
                replacing=write.replacing,
                mtime=write.mtime,
                now=now,
                trash_cutoff=trash_cutoff,
            )

        return commit_with_blob(
            index, blobs, staged, body, path_scope(write.org, write.name, write.replacing, staged)
        )
    finally:
        discard(staged)


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

    Once the staging file is durable, the blob is published and the records written in one
    exclusive index transaction; the staging file is removed whatever happens.
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
        staged.wait_durable()  # (outside the write lock: parallel uploads flush in parallel)
        ready = staged

        def body(tx: IndexTransaction, publication: Publication) -> SourceImage:
            require_org(tx, request.org)
            existing, short_hash = row_and_short_hash(tx, request.org, image_hash)
            if existing is None or existing.image.deleted or existing.image.name != request.name:
                require_file_name(tx, request.org, request.name)
            if existing is not None:
                image = reuploaded(
                    existing.image, request.name, request.user_metadata, request.mtime
                )
                tx.put_image(replace(existing, image=image))
                return image
            image = new_source_image(
                request.org,
                ready,
                image_hash=image_hash,
                short_hash=short_hash,
                name=request.name,
                user_metadata=request.user_metadata,
                dynamic_metadata=request.dynamic_metadata,
                protected=request.protected,
                now=now,
                mtime=request.mtime,
            )
            publication.record(tx)
            tx.put_image(StoredImage(image, ready.blob_id))
            return image

        return commit_with_blob(index, blobs, staged, body)
    finally:
        discard(staged)


def adopt_file(blobs: BlobStorage, handed: Staged, *, max_bytes: int) -> Staged | None:
    """A caller's complete staging file as a staged upload, moved rather than copied; None
    when the blob storage cannot take it over. Its fsync (the caller's, or one started here)
    runs while the upload is checked.

    Raises:
        PayloadTooLarge: the file is over ``max_bytes`` (it is left alone).
    """
    size = handed.path.stat().st_size
    if size > max_bytes:
        raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
    adopted = blobs.adopt_staging_file(handed.path)
    if adopted is None:
        return None
    synced = handed.synced
    if synced is None and blobs.syncs_staging:
        synced = fsync_soon(os.open(adopted, os.O_RDONLY))
    return Staged(
        adopted, handed.binary_hash, handed.binary_hash, size, synced=synced, md5=handed.md5
    )
