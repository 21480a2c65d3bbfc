"""A file face's write: the bytes become exactly the file at one path, decided in one step.

The file faces show an image at ``/<org>/<name>`` (the oldest live image of that name, see
``docs/architecture.md``). Writing that path must replace exactly that image and nothing else:

- the same bytes as the image shown: nothing changes (a repeated copy keeps every URL);
- other bytes: the image shown goes to the trash and a new image takes the name;
- bytes the organization holds already under another image (live, trashed, or past its
  retention but not purged): the new image is a ``version`` variant of them, so no other
  image is renamed, moved or brought back from the trash.

LocalStore runs :func:`write_in_index` inside a path write's index transaction
(:meth:`~rokkafs.store.index.MetadataIndex.write_path`), which excludes the writes of the same
path, so concurrent writers of one path (threads, processes, or nodes on one database)
serialize: the last to commit is the file, every earlier one is in the trash.
:func:`write_through_store` does the same with any store's public operations, for stores
that cannot do it in one step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import IO, TYPE_CHECKING

from rokkafs.errors import NotFound
from rokkafs.model import SourceImage
from rokkafs.rokka.metadata import compute_hash, validate_dynamic_metadata
from rokkafs.rokka.search import Filter, SearchQuery
from rokkafs.staging import HandedOver, Staged
from rokkafs.store.index import IndexTransaction, PathScope, PathView, StoredImage
from rokkafs.store.ingest import new_source_image
from rokkafs.store.lookups import refuse_name_clash, require_file_name, row_and_short_hash
from rokkafs.store.records import (
    MIN_SHORT_HASH,
    deleted,
    first_unused_variant,
    require_unlocked,
    variant_candidates,
)

if TYPE_CHECKING:
    from rokkafs.store.base import Store
    from rokkafs.store.blobs.publication import Publication

__all__ = [
    "move_in_index",
    "move_through_store",
    "path_scope",
    "write_in_index",
    "write_through_store",
]


def _plain_hash(staged: Staged) -> str:
    """The hash of the bytes' plain record (no dynamic metadata): a path write's first
    choice."""
    return compute_hash(staged.binary_hash, validate_dynamic_metadata({}))


def path_scope(org: str, name: str, replacing: str | None, staged: Staged) -> PathScope | None:
    """What :func:`write_in_index` decides on, for the index's path write transaction: the
    name and its plain record's hash prefix. None (every other write's turn) for a write
    naming the image it replaces by hash (``cat~1a2b3c.png``): that touches another name."""
    if replacing is not None:
        return None
    return PathScope(org, name, _plain_hash(staged)[:MIN_SHORT_HASH])


def write_in_index(
    tx: IndexTransaction,
    publication: Publication,
    *,
    org: str,
    name: str,
    replacing: str | None,
    mtime: float | None,
    now: float,
    trash_cutoff: float,
) -> SourceImage:
    """Make the detected, durable upload of ``publication`` the file at ``name`` inside one
    write transaction (see the module docstring).

    Raises:
        Locked: the image shown there is locked (nothing changes).
    """
    staged = publication.staged
    plain = _plain_hash(staged)
    view: PathView | None = None
    if replacing is None:  # (what the path shows, and all else decided on, in one lookup)
        view = tx.path_view(org, name, plain[:MIN_SHORT_HASH])
        shown = view.shown
    else:  # a duplicate spelling (``cat~1a2b3c.png``) names its image
        shown = tx.get_image(org, replacing, include_deleted=False, trash_cutoff=trash_cutoff)
    if shown is not None and shown.image.binary_hash == staged.binary_hash:
        if mtime is None or mtime == shown.image.mtime:
            return shown.image
        unchanged = replace(shown.image, mtime=mtime)
        tx.put_image(replace(shown, image=unchanged))
        return unchanged
    if shown is not None:
        require_unlocked(shown.image, "be replaced")
    elif view is not None:
        refuse_name_clash(name, view.file_folder, view.images_inside)
    else:
        require_file_name(tx, org, name)
    for candidate in variant_candidates({}, name):
        dynamic = validate_dynamic_metadata(candidate)
        image_hash = compute_hash(staged.binary_hash, dynamic)  # (the first: plain)
        near = view.near if view is not None and image_hash == plain else None
        existing, short_hash = row_and_short_hash(tx, org, image_hash, near)
        if existing is None:
            break
    image = new_source_image(
        org,
        staged,
        image_hash=image_hash,
        short_hash=short_hash,
        name=name,
        user_metadata={},
        dynamic_metadata=dynamic,
        protected=False,
        now=now,
        mtime=mtime,
    )
    if shown is not None:
        tx.put_image(replace(shown, image=deleted(shown.image, now)))
    publication.record(tx)
    tx.put_image(StoredImage(image, staged.blob_id))
    return image


def _twins(store: Store, org: str, binary_hash: str) -> list[SourceImage]:
    query = SearchQuery(filters=(Filter("binary_hash", value=binary_hash),), limit=2000)
    trashed = store.list_source_images(org, replace(query, deleted=True)).items
    return [*store.find_by_binary_hash(org, binary_hash), *trashed]


def write_through_store(
    store: Store,
    org: str,
    data: IO[bytes],
    *,
    name: str,
    replacing: str | None,
    mtime: float | None,
) -> SourceImage:
    """The same as :func:`write_in_index` through a store's public operations: the same
    result for one writer, but not one step (two writers of one path may both create)."""
    if replacing is not None:
        try:
            shown: SourceImage | None = store.get_source_image(org, replacing)
        except NotFound:
            shown = None
    else:
        shown = store.find_by_name(org, name)
    binary_hash = data.staged.binary_hash if isinstance(data, HandedOver) else None
    if shown is not None and shown.binary_hash == binary_hash:
        return shown if mtime is None else store.set_mtime(org, shown.hash, mtime)
    if shown is not None:
        require_unlocked(shown, "be replaced")
    used = [t.dynamic_metadata for t in _twins(store, org, binary_hash)] if binary_hash else []
    dynamic = first_unused_variant(used, {}, name, plain_ok=True)
    image = store.create_source_image(
        org, data, name=name, dynamic_metadata=dynamic or None, mtime=mtime
    )
    if shown is not None and shown.hash != image.hash:
        store.delete_source_image(org, shown.hash)
    return image


def move_in_index(
    tx: IndexTransaction, stored: StoredImage, name: str, *, now: float, cutoff: float
) -> SourceImage:
    """Rename ``stored`` to ``name`` inside one write transaction, trashing the image the
    path showed (if it is another one).

    Raises:
        Locked: the image shown at ``name`` is locked (nothing changes).
    """
    org = stored.image.organization
    shown = tx.image_named(org, name, deleted=False, trash_cutoff=cutoff)
    if shown is None:
        require_file_name(tx, org, name)
    if shown is not None and shown.image.hash != stored.image.hash:
        require_unlocked(shown.image, "be replaced")
        tx.put_image(replace(shown, image=deleted(shown.image, now)))
    moved = replace(stored.image, name=name)
    tx.put_image(replace(stored, image=moved))
    return moved


def move_through_store(store: Store, org: str, ref: str, name: str) -> SourceImage:
    """The same as :func:`move_in_index` through a store's public operations (not one step)."""
    image = store.get_source_image(org, ref)
    shown = store.find_by_name(org, name)
    if shown is not None and shown.hash != image.hash:
        require_unlocked(shown, "be replaced")
        store.delete_source_image(org, shown.hash)
    return store.rename_source_image(org, image.hash, name)
