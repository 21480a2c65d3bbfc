"""Lookups inside an index transaction that raise the store's errors."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rokkafs.errors import AlreadyExists, ImageNotFound, OrganizationNotFound
from rokkafs.model import Organization, folders_of, validate_hash_ref
from rokkafs.store.index import IndexTransaction, StoredImage
from rokkafs.store.records import MIN_SHORT_HASH, shortest_unique_prefix

__all__ = [
    "existing_row",
    "refuse_name_clash",
    "require_file_name",
    "require_image",
    "require_org",
    "row_and_short_hash",
    "short_hash_for",
]


def require_org(tx: IndexTransaction, org: str) -> Organization:
    """The organization.

    Raises:
        OrganizationNotFound: it does not exist.
    """
    organization = tx.get_organization(org)
    if organization is None:
        raise OrganizationNotFound(f"organization {org!r} not found")
    return organization


def require_image(
    tx: IndexTransaction, org: str, ref: str, *, include_deleted: bool, trash_cutoff: float
) -> StoredImage:
    """A live (or, with ``include_deleted``, restorable) image by hash or short hash.

    Raises:
        InvalidInput: ``ref`` is not a hash.
        OrganizationNotFound: unknown organization.
        ImageNotFound: no such image.
    """
    validate_hash_ref(ref)
    stored = tx.get_image(org, ref, include_deleted=include_deleted, trash_cutoff=trash_cutoff)
    if stored is None:
        require_org(tx, org)  # (an image found proves its organization exists)
        raise ImageNotFound(f"source image {ref} not found in organization {org!r}")
    return stored


def require_file_name(tx: IndexTransaction, org: str, name: str) -> None:
    """Refuse a name that would make one path both a file and a folder (``x.svg`` next to
    ``x.svg/inner.svg``): the file faces could show only one of them.

    Raises:
        AlreadyExists: a live image is named like one of its folders, or has it as a folder.
    """
    file_folder = tx.live_name_among(org, folders_of(name))
    refuse_name_clash(name, file_folder, file_folder is None and tx.has_live_names_below(org, name))


def refuse_name_clash(name: str, file_folder: str | None, images_inside: bool) -> None:
    """:func:`require_file_name` on what was looked up already: ``file_folder``, one of the
    name's folders that a live image is named; ``images_inside``, whether live images are
    inside the name as a folder.

    Raises:
        AlreadyExists: either.
    """
    if file_folder is not None:
        raise AlreadyExists(f"{file_folder!r} is a file, so it cannot be a folder of {name!r}")
    if images_inside:
        raise AlreadyExists(f"{name!r} is a folder of other images, so it cannot be a file")


def existing_row(tx: IndexTransaction, org: str, image_hash: str) -> StoredImage | None:
    """The record of that hash in ``org`` in any state (live, trashed, expired)."""
    return tx.get_image(org, image_hash, include_deleted=True, trash_cutoff=-math.inf)


def row_and_short_hash(
    tx: IndexTransaction, org: str, image_hash: str, near: Sequence[StoredImage] | None = None
) -> tuple[StoredImage | None, str]:
    """The record of that hash in ``org`` (any state) and the short hash a new record of it
    gets, from one look at the hashes sharing its first six characters (usually none;
    ``near``: those records, when the caller read them already under that prefix's lock)."""
    if near is None:
        tx.lock_hash_prefix(org, image_hash[:MIN_SHORT_HASH])
        near = tx.images_with_hash_prefix(org, image_hash[:MIN_SHORT_HASH])
    existing = next((stored for stored in near if stored.image.hash == image_hash), None)
    if all(stored.image.hash == image_hash for stored in near):
        return existing, image_hash[:MIN_SHORT_HASH]
    return existing, short_hash_for(tx, org, image_hash)


def short_hash_for(tx: IndexTransaction, org: str, image_hash: str) -> str:
    """The shortest prefix (>= 6) of ``image_hash`` that no other hash of ``org`` starts with."""
    return shortest_unique_prefix(
        image_hash, lambda prefix: tx.hash_prefix_taken(org, prefix, exclude_hash=image_hash)
    )
