"""cadaver (neon) against rokkafs: put, get, copy, move and dead properties."""

from __future__ import annotations

from pathlib import Path

import images
from davsupport import DavServer, cadaver

from rokkafs.rokka.search import SearchQuery


def test_cadaver_session(any_dav_server: DavServer, tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(images.png(color=4))
    back = tmp_path / "back.png"
    script = "\n".join(
        [
            f"put {picture} cat.png",
            "copy cat.png copy.png",
            "move copy.png moved.png",
            "propset cat.png colour blue",
            "propget cat.png colour",
            f"get cat.png {back}",
            "ls",
            "quit",
        ]
    )
    result = cadaver(f"{any_dav_server.dav}/acme/", any_dav_server.key, script, tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout, result.stdout
    assert "Value of colour is: blue" in result.stdout
    assert back.read_bytes() == picture.read_bytes()
    names = {i.name for i in any_dav_server.store.list_source_images("acme", SearchQuery()).items}
    assert names == {"cat.png", "moved.png"}
