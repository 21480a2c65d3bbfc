"""The npm ``webdav`` client against rokkafs: list, upload, download, move, copy, delete
(checks in tests/js/webdav_client.test.mjs), then the result checked against the store."""

from __future__ import annotations

from pathlib import Path

import images
from davsupport import DavServer
from support import run_node_test

from rokkafs.rokka.search import SearchQuery


def test_npm_webdav_client(any_dav_server: DavServer, tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(images.png(color=11))
    run_node_test(
        "webdav_client.test.mjs",
        DAV_URL=any_dav_server.dav,
        DAV_KEY=any_dav_server.key,
        IMAGE=str(picture),
    )
    copied = any_dav_server.store.list_source_images("other").items
    assert [i.name for i in copied] == ["copied.png"]
    trashed = any_dav_server.store.list_source_images("acme", SearchQuery(deleted=True)).items
    assert [i.name for i in trashed] == ["album/renamed.png"]
