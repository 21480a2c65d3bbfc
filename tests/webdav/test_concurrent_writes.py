"""Eight clients PUT different bytes to one path at once: one file, the rest in the trash, every
PUT answered 201 or 204; on one server and on two server processes sharing a data directory."""

from __future__ import annotations

from pathlib import Path

import httpx
from davsupport import DavServer, put_at_once
from support import serving

from rokkafs.rokka.search import SearchQuery
from rokkafs.store.local import LocalStore

PATHS = ("a.png", "b.png", "c.png")


def check_store(store: LocalStore, urls: list[str], key: str) -> None:
    live = store.list_source_images("acme", SearchQuery(limit=100)).items
    trashed = store.list_source_images("acme", SearchQuery(deleted=True, limit=100)).items
    assert sorted(i.name for i in live) == list(PATHS)
    assert len(live) + len(trashed) == 8 * len(PATHS)
    listing = httpx.request(
        "PROPFIND", f"{urls[0]}/acme/", headers={"Depth": "1"}, auth=("me", key)
    )
    assert listing.status_code == 207
    assert "~" not in listing.text  # no duplicate spelling appeared


def test_eight_writers_on_one_server(dav_server: DavServer) -> None:
    statuses: list[int] = []
    for round_, path in enumerate(PATHS):
        servers = [(dav_server.dav, dav_server.key)]
        statuses += put_at_once(servers, f"acme/{path}", range(8 * round_, 8 * round_ + 8))
    assert set(statuses) <= {201, 204} and len(statuses) == 24
    check_store(dav_server.store, [dav_server.dav], dav_server.key)


def test_eight_writers_on_two_server_processes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("acme")
    with serving(data) as (first, key, _), serving(data) as (second, _, _):
        urls = [f"{first}/dav", f"{second}/dav"]
        statuses: list[int] = []
        for round_, path in enumerate(PATHS):
            servers = [(url, key) for url in urls]
            statuses += put_at_once(servers, f"acme/{path}", range(8 * round_, 8 * round_ + 8))
        assert set(statuses) <= {201, 204} and len(statuses) == 24
        check_store(store, urls, key)
    store.close()
