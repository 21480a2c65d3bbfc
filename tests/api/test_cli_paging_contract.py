"""The paging contract rokka's Go and PHP CLIs rely on, replayed against the REST API:
cursor passed back in ``offset``, an empty page ends; copy-all in groups of 100 with two
writers (Go) and delete-all while paging (PHP)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Queue

import httpx
import images
import pytest

from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

KEY = "p" * 64
COUNT = 230


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, LocalStore]]:
    store = LocalStore(Path(tmp_path_factory.mktemp("paging")) / "data")
    for org in ("src", "dst", "doomed"):
        store.create_organization(org)
    for i in range(COUNT):
        data = io.BytesIO(images.png(color=i, size=(4 + i % 60, 4 + i // 60)))
        image = store.create_source_image("src", data, name=f"{i}.png")
        store.copy_source_image("src", image.hash, "doomed")
    with (
        running_server(make_server(store, lambda: [KEY], port=0)) as url,
        httpx.Client(base_url=url, headers={"Api-Key": KEY}, timeout=30) as client,
    ):
        yield client, store
    store.close()


def read_pages(client: httpx.Client, org: str, limit: int | None) -> Iterator[list[str]]:
    """The readers of both CLIs: first page without offset, then the cursor as offset; stop
    on an empty page, a missing cursor or a cursor equal to the previous one."""
    previous = None
    params: dict[str, object] = {} if limit is None else {"limit": limit}
    while True:
        body = client.get(f"/sourceimages/{org}", params=params).json()
        if not body["items"]:
            return
        yield [item["hash"] for item in body["items"]]
        cursor = body.get("cursor")
        if not cursor or cursor == previous:
            return
        previous = cursor
        params = {**({} if limit is None else {"limit": limit}), "offset": cursor}


def test_go_copy_all(api: tuple[httpx.Client, LocalStore]) -> None:
    client, store = api
    total = client.get("/sourceimages/src", params={"limit": 1}).json()["total"]
    assert total == COUNT
    batches: Queue[list[str] | None] = Queue()
    results: list[dict[str, list[str]]] = []

    def writer() -> None:
        while (batch := batches.get()) is not None:
            response = client.post(
                "/sourceimages/src/copy", json=batch, headers={"Destination": "dst"}
            )
            assert response.status_code == 200
            results.append(response.json())

    writers = [threading.Thread(target=writer) for _ in range(2)]
    for thread in writers:
        thread.start()
    pending: list[str] = []
    for page in read_pages(client, "src", None):  # no limit: the server default of 100
        assert len(page) <= 100
        pending += page
        while len(pending) >= 100:
            batches.put(pending[:100])
            pending = pending[100:]
    if pending:
        batches.put(pending)
    for _ in writers:
        batches.put(None)
    for thread in writers:
        thread.join(timeout=60)
    ok = sum(len(r["created"]) + len(r["existing"]) for r in results)
    assert ok == COUNT and not any(r["notfound"] for r in results)
    assert store.list_source_images("dst").total == COUNT
    # interrupted and re-run: everything reports as existing, nothing changes
    again = client.post(
        "/sourceimages/src/copy", json=results[0]["created"][:5], headers={"Destination": "dst"}
    )
    assert again.json()["existing"] == results[0]["created"][:5]


def test_php_delete_all_while_paging(api: tuple[httpx.Client, LocalStore]) -> None:
    client, store = api
    deleted = 0
    for page in read_pages(client, "doomed", 20):
        for image_hash in page:
            assert client.delete(f"/sourceimages/doomed/{image_hash}").status_code == 204
            deleted += 1
    assert deleted == COUNT
    assert store.list_source_images("doomed").total == 0
    assert client.get("/sourceimages/doomed").json()["items"] == []
