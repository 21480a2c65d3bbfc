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

from rokkafs.rokka.search import SearchQuery


def rclone_for(dav_server: DavServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    """rclone with a remote ``rokka:`` (vendor owncloud) on the server's WebDAV."""
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


@pytest.fixture
def rclone(dav_server: DavServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    return rclone_for(dav_server, tmp_path)


def test_rclone_copy_check_recopy_and_server_side_copy(
    every_dav_server: DavServer,
    tmp_path: Path,
) -> None:
    dav_server = every_dav_server  # (on SQLite and on PostgreSQL)
    rclone = rclone_for(dav_server, tmp_path)
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


def test_rclone_checks_every_hash_and_finds_a_same_size_change(
    every_dav_server: DavServer,
    tmp_path: Path,
) -> None:
    dav_server = every_dav_server  # (on SQLite and on PostgreSQL)
    rclone = rclone_for(dav_server, tmp_path)
    import hashlib
    import json

    local = tmp_path / "photos"
    local.mkdir()
    for i in range(3):
        (local / f"{i}.png").write_bytes(images.png(color=20 + i))
    assert rclone("copy", str(local), "rokka:acme/photos").returncode == 0
    check = rclone("check", str(local), "rokka:acme/photos", "--checksum")
    assert check.returncode == 0, check.stderr
    assert "could not be checked" not in check.stderr, check.stderr
    assert "3 matching files" in check.stderr, check.stderr
    listed = json.loads(rclone("lsjson", "--hash", "rokka:acme/photos").stdout)
    for entry in listed:
        data = (local / entry["Name"]).read_bytes()
        assert entry["Hashes"]["md5"] == hashlib.md5(data).hexdigest()
        assert entry["Hashes"]["sha1"] == hashlib.sha1(data).hexdigest()

    # other bytes, same size, same modification time: only a checksum can tell
    changed = local / "1.png"
    stamp = changed.stat().st_mtime
    other = images.png(color=99)
    assert len(other) == changed.stat().st_size
    changed.write_bytes(other)
    os.utime(changed, (stamp, stamp))
    found = rclone("check", str(local), "rokka:acme/photos", "--checksum")
    assert found.returncode != 0 and "1 differences found" in found.stderr, found.stderr
    resent = rclone("copy", str(local), "rokka:acme/photos", "--checksum", "-v")
    assert resent.returncode == 0 and "1.png: Copied" in resent.stderr, resent.stderr
    image = dav_server.store.find_by_name("acme", "photos/1.png")
    assert image is not None and image.binary_hash == hashlib.sha1(other).hexdigest()


def test_images_stored_without_an_md5_get_it_when_first_asked(
    rclone,
    dav_server: DavServer,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    import hashlib
    import sqlite3

    data = images.png(color=30)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "old.png").write_bytes(data)
    assert rclone("copy", str(tmp_path / "old"), "rokka:acme").returncode == 0
    with sqlite3.connect(dav_server.data / "index.sqlite3") as index:  # as an older rokkafs left it
        index.execute("UPDATE images SET md5 = NULL")
    check = rclone("check", str(tmp_path / "old"), "rokka:acme", "--checksum")
    assert "could not be checked" not in check.stderr and "1 matching files" in check.stderr
    image = dav_server.store.find_by_name("acme", "old.png")
    assert image is not None and image.md5 == hashlib.md5(data).hexdigest()
