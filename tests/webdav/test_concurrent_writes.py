"""Eight clients PUT different bytes to one path at once: one file, the rest in the trash, every
PUT answered 201 or 204; on one server and on two server processes sharing a data directory."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import images
from davsupport import DavServer
from support import serving

from rokkafs.search import SearchQuery
from rokkafs.store.local import LocalStore

PATHS = ("a.png", "b.png", "c.png")


def put_at_once(urls: list[str], key: str, path: str, colors: range) -> list[int]:
    """PUT one image per colour to ``path``, all at once, spread over the servers."""
    statuses: list[int] = []
    start = threading.Barrier(len(colors))

    def put(url: str, color: int) -> None:
        with httpx.Client(base_url=url, auth=("me", key), timeout=60) as client:
            start.wait()
            statuses.append(
                client.put(f"/acme/{path}", content=images.png(color=color)).status_code
            )

    threads = [
        threading.Thread(target=put, args=(urls[i % len(urls)], color))
        for i, color in enumerate(colors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


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
        statuses += put_at_once(
            [dav_server.dav], dav_server.key, path, range(8 * round_, 8 * round_ + 8)
        )
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
            statuses += put_at_once(urls, key, path, range(8 * round_, 8 * round_ + 8))
        assert set(statuses) <= {201, 204} and len(statuses) == 24
        check_store(store, urls, key)
    store.close()
