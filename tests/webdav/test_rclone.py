"""rclone's webdav backend (vendor owncloud) against rokkafs: copy, checksum check, a second
copy that transfers nothing, and a server-side copy between organizations that keeps the hash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import images
import pytest
from davsupport import DavServer

from rokkafs.search import SearchQuery


@pytest.fixture
def rclone(dav_server: DavServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    binary = shutil.which("rclone")
    assert binary, "rclone is required (Debian package rclone; .ci/run installs it)"
    obscured = subprocess.run(
        [binary, "obscure", dav_server.key], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        **os.environ,
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
        "RCLONE_CONFIG_ROKKA_TYPE": "webdav",
        "RCLONE_CONFIG_ROKKA_URL": dav_server.dav,
        "RCLONE_CONFIG_ROKKA_VENDOR": "owncloud",
        "RCLONE_CONFIG_ROKKA_USER": "someone",
        "RCLONE_CONFIG_ROKKA_PASS": obscured,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120)

    return run


def test_rclone_copy_check_recopy_and_server_side_copy(
    rclone,
    dav_server: DavServer,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    local = tmp_path / "photos"
    (local / "sub").mkdir(parents=True)
    for i in range(4):
        (local / f"{i}.png").write_bytes(images.png(color=i, size=(40 + i, 30)))
    (local / "sub" / "deep.jpg").write_bytes(images.jpeg(color=9))
    os.utime(local / "0.png", (1_577_934_245, 1_577_934_245))

    first = rclone("copy", str(local), "rokka:acme/photos", "-v")
    assert first.returncode == 0, first.stderr
    stored = dav_server.store.list_source_images("acme", SearchQuery(limit=100)).items
    assert sorted(i.name for i in stored) == [
        "photos/0.png", "photos/1.png", "photos/2.png", "photos/3.png", "photos/sub/deep.jpg"
    ]  # fmt: skip
    zero = next(i for i in stored if i.name == "photos/0.png")
    assert int(zero.mtime) == 1_577_934_245

    check = rclone("check", str(local), "rokka:acme/photos", "--checksum")
    assert check.returncode == 0, check.stderr
    assert "0 differences found" in check.stderr

    again = rclone("copy", str(local), "rokka:acme/photos", "-v")
    assert again.returncode == 0, again.stderr
    assert "Copied" not in again.stderr, again.stderr
    after = dav_server.store.list_source_images("acme", SearchQuery(limit=100)).items
    assert {i.hash for i in after} == {i.hash for i in stored}

    copied = rclone("copyto", "rokka:acme/photos/1.png", "rokka:other/one.png", "-v")
    assert copied.returncode == 0, copied.stderr
    source = next(i for i in stored if i.name == "photos/1.png")
    target = dav_server.store.list_source_images("other").items
    assert [(i.name, i.hash) for i in target] == [("one.png", source.hash)]
    listing = rclone("lsjson", "--hash", "rokka:acme/photos")
    assert source.binary_hash in listing.stdout
