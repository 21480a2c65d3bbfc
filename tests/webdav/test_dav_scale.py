"""PROPFIND of a big folder is answered from batched queries, never one query per child."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import images
from davsupport import responses

from rokkafs.model import SourceImage, SourceImageList
from rokkafs.rokka.search import SearchQuery
from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore


class CountingStore(LocalStore):
    """A LocalStore that counts the read queries the faces make."""

    lists = 0
    gets = 0

    def list_source_images(self, org: str, query: SearchQuery | None = None) -> SourceImageList:
        CountingStore.lists += 1
        return super().list_source_images(org, query)

    def get_source_image(self, org: str, ref: str, *, deleted: bool = False) -> SourceImage:
        CountingStore.gets += 1
        return super().get_source_image(org, ref, deleted=deleted)


def propfind_queries(url: str, key: str) -> tuple[int, int, int]:
    CountingStore.lists = CountingStore.gets = 0
    response = httpx.request(
        "PROPFIND", f"{url}/dav/acme/big/", headers={"Depth": "1"}, auth=("u", key), timeout=60
    )
    assert response.status_code == 207
    return len(responses(response.text)), CountingStore.lists, CountingStore.gets


def test_propfind_query_count_does_not_grow_with_the_folder(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "data")
    store.create_organization("acme")
    key = "s" * 64
    with running_server(
        make_server(store, lambda: [key], port=0, data_dir=tmp_path / "data")
    ) as url:
        for i in range(10):
            store.create_source_image("acme", io.BytesIO(images.png(color=i)), name=f"big/{i}.png")
        small = propfind_queries(url, key)
        for i in range(10, 300):
            data = io.BytesIO(images.png(color=i, size=(8 + i % 50, 8 + i // 50)))
            store.create_source_image("acme", data, name=f"big/{i}.png")
        large = propfind_queries(url, key)
    store.close()
    assert small[0] == 11 and large[0] == 301  # the folder itself plus its members
    assert large[1:] == small[1:], (small, large)
    assert large[2] == 0 and large[1] <= 6
