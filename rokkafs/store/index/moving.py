"""Moving a store's metadata from one index to another (the embedded SQLite file into
PostgreSQL, for a store that outgrew one machine). The bytes stay where they are.

Resumable: every record is written with an upsert keyed like the index itself (an
organization by name, a blob by id, an image by organization and hash), so a run that was
stopped is simply started again, and a second run changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rokkafs.rokka.search import SearchQuery, SortKey, encode_cursor
from rokkafs.store.index import MetadataIndex, StoredImage

__all__ = ["MoveCounts", "move_index"]

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class MoveCounts:
    """What a move wrote: organizations, blobs and image records."""

    organizations: int
    blobs: int
    images: int


def _records(source: MetadataIndex, org: str, *, deleted: bool) -> Iterator[list[StoredImage]]:
    """Pages of every record of ``org``, live or (``deleted``) trashed at any age, oldest
    first (so the oldest of a name stays the oldest)."""
    oldest_first = (SortKey("created"),)
    query = SearchQuery(sort=oldest_first, limit=_PAGE, deleted=deleted, with_total=False)
    while True:
        with source.read() as tx:
            page = tx.search(org, query, trash_cutoff=-math.inf)
        if page.items:
            yield list(page.items)
        if len(page.items) < _PAGE or page.last_key is None:
            return
        query = SearchQuery(
            sort=oldest_first,
            limit=_PAGE,
            deleted=deleted,
            with_total=False,
            cursor=encode_cursor(page.last_key),
        )


def move_index(
    source: MetadataIndex,
    target: MetadataIndex,
    *,
    progress: Callable[[int], object] = lambda count: None,
) -> MoveCounts:
    """Copy every organization, blob and image record of ``source`` into ``target``."""
    with source.read() as tx:
        organizations = tx.list_organizations()
    with target.write() as tx:
        for organization in organizations:
            if tx.get_organization(organization.name) is None:
                tx.insert_organization(organization)
            tx.set_organization_options(organization.name, dict(organization.options))
    blobs = 0
    after = ""
    while True:  # (the blob records first, with their own sizes: images refer to them)
        with source.lookup() as tx:
            page = tx.blob_page(after=after, limit=_PAGE)
        with target.write() as tx:
            for blob_id, size, _ in page:
                tx.add_blob(blob_id, size, epoch=None)  # (the bytes are in the shared blobs)
        blobs += len(page)
        if len(page) < _PAGE:
            break
        after = page[-1][0]
    images = 0
    for organization in organizations:
        for deleted in (False, True):
            for records in _records(source, organization.name, deleted=deleted):
                with target.write() as tx:
                    for stored in records:
                        tx.put_image(stored)
                images += len(records)
                progress(len(records))
    return MoveCounts(len(organizations), blobs, images)
