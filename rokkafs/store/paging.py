"""Walking a whole listing page by page, following its search-after cursors: the one loop
every caller that needs more than a page uses (the path model, the zip download, ``ls``,
bulk commands, copying a whole organization)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from rokkafs.model import SourceImage, SourceImageList
from rokkafs.rokka.search import SearchQuery

if TYPE_CHECKING:
    from rokkafs.store.base import Store

__all__ = ["iter_images", "iter_pages"]


def iter_pages(store: Store, org: str, query: SearchQuery) -> Iterator[SourceImageList]:
    """Every page of ``query`` in ``org`` (a query with a numeric offset: that page only).
    Pages are asked for as they are consumed, so a caller may stop early or change the
    organization between pages (cursors are stable while images are deleted)."""
    while True:
        page = store.list_source_images(org, query)
        yield page
        short = query.limit > 0 and len(page.items) < query.limit
        if not page.items or short or page.cursor is None or query.offset is not None:
            return
        query = replace(query, cursor=page.cursor)


def iter_images(store: Store, org: str, query: SearchQuery) -> Iterator[SourceImage]:
    """Every image of ``query`` in ``org``, in its order."""
    for page in iter_pages(store, org, query):
        yield from page.items
