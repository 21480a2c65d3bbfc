"""cadaver (neon) against rokkafs: put, get, copy, move and dead properties."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import images
from davsupport import DavServer

from rokkafs.search import SearchQuery


def test_cadaver_session(dav_server: DavServer, tmp_path: Path) -> None:
    cadaver = shutil.which("cadaver")
    assert cadaver, "cadaver is required (Debian package cadaver; .ci/run installs it)"
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    host = urlsplit(dav_server.url).hostname
    netrc.write_text(f"machine {host}\nlogin someone\npassword {dav_server.key}\n")
    netrc.chmod(0o600)
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
    result = subprocess.run(
        [cadaver, f"{dav_server.dav}/acme/"],
        input=script + "\n",
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout, result.stdout
    assert "Value of colour is: blue" in result.stdout
    assert back.read_bytes() == picture.read_bytes()
    names = {i.name for i in dav_server.store.list_source_images("acme", SearchQuery()).items}
    assert names == {"cat.png", "moved.png"}
