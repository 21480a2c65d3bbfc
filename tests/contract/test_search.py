"""Store contract: listing, search, sort and cursor paging."""

from __future__ import annotations

import images
import pytest
from support import Clock, upload

from rokkafs.errors import InvalidInput, OrganizationNotFound
from rokkafs.rokka.search import SearchQuery, encode_cursor, parse_search
from rokkafs.store.base import Store


@pytest.fixture
def library(store: Store, clock: Clock) -> Store:
    """Ten images created one second apart: img0 (oldest) … img9 (newest)."""
    for i in range(10):
        upload(
            store,
            images.png(color=i, size=(10 + i, 10)),
            f"dir{i % 2}/img{i}.png",
            user_metadata={"int:rank": i % 4, "title": f"Title {i}", "array:tags": [f"t{i % 3}"]},
        )
        clock.advance(1)
    return store


def names(result: object) -> list[str]:
    return [image.name.split("/")[-1] for image in result.items]  # type: ignore[attr-defined]


def search(store: Store, **params: str) -> object:
    return store.list_source_images("acme", parse_search(params))


def test_default_order_is_newest_first(library: Store) -> None:
    page = library.list_source_images("acme")
    assert page.total == 10
    assert names(page) == [f"img{i}.png" for i in range(9, -1, -1)]
    assert page.cursor


def test_limit_and_numeric_offset(library: Store) -> None:
    page = search(library, limit="3", offset="2")
    assert names(page) == ["img7.png", "img6.png", "img5.png"]
    assert page.total == 10 and page.cursor is None  # type: ignore[attr-defined]
    assert search(library, limit="0").total == 10  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", ["-1", "2001", "x"])
def test_bad_limits(library: Store, limit: str) -> None:
    with pytest.raises(InvalidInput):
        search(library, limit=limit)


def test_cursor_paging_visits_everything_once_and_terminates(library: Store) -> None:
    seen: list[str] = []
    query = SearchQuery(limit=3)
    previous = None
    for _ in range(10):
        page = library.list_source_images("acme", query)
        if not page.items or page.cursor == previous:
            break
        seen += names(page)
        previous = page.cursor
        query = parse_search({"limit": "3", "offset": page.cursor or ""})
    assert seen == [f"img{i}.png" for i in range(9, -1, -1)]
    again = library.list_source_images("acme", query)
    assert again.items == () and again.cursor == query.cursor


def test_cursor_is_stable_while_deleting(library: Store) -> None:
    """rokka's PHP delete-all pages with cursors while deleting what it saw."""
    deleted = 0
    query = parse_search({"limit": "4"})
    while True:
        page = library.list_source_images("acme", query)
        if not page.items:
            break
        for image in page.items:
            library.delete_source_image("acme", image.hash)
            deleted += 1
        query = parse_search({"limit": "4", "offset": page.cursor or ""})
    assert deleted == 10
    assert library.list_source_images("acme").total == 0


def test_field_filters(library: Store) -> None:
    assert names(search(library, name="dir1/img3.png")) == ["img3.png"]
    assert sorted(names(search(library, name="dir0/*"))) == [f"img{i}.png" for i in (0, 2, 4, 6, 8)]
    assert names(search(library, width="[15,17]", sort="width")) == [
        "img5.png",
        "img6.png",
        "img7.png",
    ]
    assert names(search(library, width="{15,17}")) == ["img6.png"]
    assert names(search(library, width="[18,}", sort="width desc")) == ["img9.png", "img8.png"]
    assert search(library, format="png").total == 10  # type: ignore[attr-defined]
    assert search(library, mimetype="image/jpeg").total == 0  # type: ignore[attr-defined]


def test_user_metadata_filters_and_sort(library: Store) -> None:
    assert sorted(names(search(library, **{"user:int:rank": "3"}))) == ["img3.png", "img7.png"]
    assert search(library, **{"user:int:rank": "[2,}"}).total == 4  # type: ignore[attr-defined]
    assert names(search(library, **{"user:title": "Title 4"})) == ["img4.png"]
    assert search(library, **{"user:str:title": "Title*"}).total == 10  # type: ignore[attr-defined]
    assert search(library, **{"user:array:tags": "t1"}).total == 3  # type: ignore[attr-defined]
    prefixed = search(library, **{"user:int:rank": "1*"})  # (a prefix of a number's digits)
    assert sorted(names(prefixed)) == ["img1.png", "img5.png", "img9.png"]
    ranked = search(library, sort="user:int:rank desc,created asc", limit="3")
    assert names(ranked) == ["img3.png", "img7.png", "img2.png"]


def test_or_operator(library: Store) -> None:
    result = search(library, operator="or", name="dir1/img1.png", width="10")
    assert sorted(names(result)) == ["img0.png", "img1.png"]


def test_hash_filters(library: Store) -> None:
    image = library.list_source_images("acme").items[0]
    assert names(search(library, hash=image.hash)) == [image.name.split("/")[-1]]
    assert search(library, short_hash=image.short_hash).total == 1  # type: ignore[attr-defined]
    assert search(library, binaryhash=image.binary_hash).total == 1  # type: ignore[attr-defined]
    assert search(library, binaryHash=image.binary_hash).total == 1  # type: ignore[attr-defined]


def test_created_range(library: Store, clock: Clock) -> None:
    everything = search(library, created="['2000-01-01T00:00:00Z',}")
    assert everything.total == 10  # type: ignore[attr-defined]
    assert search(library, created="[,'2000-01-01T00:00:00+00:00']").total == 0  # type: ignore[attr-defined]


def test_dynamic_metadata_search(library: Store) -> None:
    image = library.list_source_images("acme").items[0]
    library.set_dynamic_metadata("acme", image.hash, "version", {"text": "v2"})
    assert search(library, **{"dynamic:str:version:text": "v2"}).total == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "params",
    [
        {"bogus": "1"},
        {"user:bad-key": "1"},
        {"user:int:rank": "high"},
        {"sort": "bogus"},
        {"sort": "size sideways"},
        {"offset": "not-a-cursor!"},
        {"offset": encode_cursor(["not-a-time", "not-a-number"])},
        {"operator": "xor"},
        {"static:str:exif:model": "x"},
    ],
)
def test_bad_queries(library: Store, params: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        search(library, **params)


def test_deleted_listing_shows_only_the_trash(library: Store) -> None:
    image = library.list_source_images("acme").items[0]
    library.delete_source_image("acme", image.hash)
    trash = search(library, deleted="true")
    assert [i.hash for i in trash.items] == [image.hash]  # type: ignore[attr-defined]
    assert trash.items[0].deleted and trash.items[0].deleted_date is not None  # type: ignore[attr-defined]
    assert library.list_source_images("acme").total == 9


def test_find_by_binary_hash_finds_every_variant(library: Store) -> None:
    image = library.list_source_images("acme").items[0]
    library.set_dynamic_metadata("acme", image.hash, "subject_area", {"x": 1, "y": 1})
    found = library.find_by_binary_hash("acme", image.binary_hash)
    assert len(found) == 2 and {i.binary_hash for i in found} == {image.binary_hash}


def test_find_by_name_is_the_oldest_image_of_exactly_that_name(
    library: Store, clock: Clock
) -> None:
    first = library.find_by_name("acme", "dir0/img4.png")
    assert first is not None and first.name == "dir0/img4.png"
    clock.advance(1)
    later = upload(library, images.png(color=200), "dir0/img4.png")
    assert library.find_by_name("acme", "dir0/img4.png") == first  # the oldest shows
    assert library.find_by_name("acme", "dir0/img4") is None  # exact names, no prefixes
    assert library.find_by_name("acme", "dir0/IMG4.png") is None
    library.delete_source_image("acme", first.hash)
    assert library.find_by_name("acme", "dir0/img4.png") == later
    trashed = library.find_by_name("acme", "dir0/img4.png", deleted=True)
    assert trashed is not None and trashed.hash == first.hash and trashed.deleted
    assert library.find_by_name("acme", "dir1/img4.png", deleted=True) is None


def test_find_by_name_in_an_unknown_organization(library: Store) -> None:
    with pytest.raises(OrganizationNotFound):
        library.find_by_name("nobody", "dir0/img4.png")
    with pytest.raises(OrganizationNotFound):
        library.find_by_name_or_folder("nobody", "dir0")
    with pytest.raises(OrganizationNotFound):
        library.require_organization("nobody")
    library.require_organization("acme")  # (no error)
    with pytest.raises(OrganizationNotFound):
        library.organization_created("nobody")
    created = library.get_organization("acme").created
    assert library.organization_created("acme") == created
    assert library.organization_created("acme") == created  # (also when remembered)


def test_find_by_name_or_folder_tells_a_file_a_folder_and_nothing_apart(
    library: Store,
) -> None:
    image, _ = library.find_by_name_or_folder("acme", "dir0/img4.png")
    assert image == library.find_by_name("acme", "dir0/img4.png") and image is not None
    assert library.find_by_name_or_folder("acme", "dir0") == (None, True)
    assert library.find_by_name_or_folder("acme", "dir") == (None, False)  # (no prefixes)
    assert library.find_by_name_or_folder("acme", "dir0/img4") == (None, False)
    for listed in library.list_source_images("acme", SearchQuery(limit=500)).items:
        if listed.name.startswith("dir1/"):
            library.delete_source_image("acme", listed.hash)
    assert library.find_by_name_or_folder("acme", "dir1") == (None, False)
    assert library.find_by_name_or_folder("acme", "dir1", deleted=True) == (None, True)
