"""Multipart uploads a stopped node leaves in the bucket (S3 lists their parts as no object)
are reported by ``check`` and aborted by the purge once they are older than the grace period;
those of other prefixes are never touched."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from httpx_auth import AWS4Auth
from s3server import ACCESS_KEY, BUCKET, SECRET_KEY, S3Server

from rokkafs.access.registry import AccessRegistry
from rokkafs.cli import cli
from rokkafs.server import make_server, running_server
from rokkafs.store import maintenance
from rokkafs.store.blobs.s3 import S3BlobStorage
from rokkafs.store.local import LocalStore


def begin_upload(s3: S3Server, key: str) -> str:
    """A multipart upload begun with one part sent, as a node stopped in the middle leaves."""
    auth = AWS4Auth(access_id=ACCESS_KEY, secret_key=SECRET_KEY, region="us-east-1", service="s3")
    with httpx.Client(auth=auth, base_url=s3.endpoint) as client:
        begun = client.post(f"/{BUCKET}/{key}", params={"uploads": ""})
        assert begun.status_code == 200, begun.text
        found = re.search(r"<UploadId>(.*?)</UploadId>", begun.text)
        assert found is not None
        part = client.put(
            f"/{BUCKET}/{key}", params={"partNumber": "1", "uploadId": found[1]}, content=b"x" * 999
        )
        assert part.status_code == 200
        return found[1]


def test_unfinished_uploads_are_noted_kept_for_an_hour_then_aborted(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, other_url = s3.new_url(), s3.new_url()
    blobs = S3BlobStorage(url, tmp_path / "staging")
    other = S3BlobStorage(other_url, tmp_path / "other")
    mine = begin_upload(s3, f"{prefix_of(url)}/blobs/ab/cd/{'ab' * 20}")
    theirs = begin_upload(s3, f"{prefix_of(other_url)}/blobs/ef/01/{'ef' * 20}")
    assert [u.upload_id for u in blobs.unfinished_uploads()] == [mine]
    assert abs(next(blobs.unfinished_uploads()).initiated - time.time()) < 60
    store = LocalStore(tmp_path / "data", blobs=blobs)
    assert any("unfinished multipart upload of " + "ab" * 20 in n for n in store.check().notes)
    store.purge_trash()
    assert [u.upload_id for u in blobs.unfinished_uploads()] == [mine]  # (begun just now)
    monkeypatch.setattr(maintenance, "BLOB_GRACE_SECONDS", 0.0)  # (an hour later)
    store.purge_trash()
    assert list(blobs.unfinished_uploads()) == []
    assert not any("multipart" in n for n in store.check().notes)
    assert [u.upload_id for u in other.unfinished_uploads()] == [theirs]
    store.close()


def prefix_of(url: str) -> str:
    return url.split(BUCKET + "/", 1)[1].split("?", 1)[0]


def test_a_node_killed_in_the_middle_of_a_big_upload_leaves_parts_the_purge_removes(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = s3.new_url()
    big = tmp_path / "big"
    with big.open("wb") as out:
        for _ in range(200):
            out.write(os.urandom(1 << 20))
    uploader = textwrap.dedent(f"""
        from pathlib import Path
        from rokkafs.store.blobs.s3 import S3BlobStorage
        S3BlobStorage({url!r}, Path({str(tmp_path / "staging")!r})).publish(
            Path({str(big)!r}), "ab" * 20)
    """)
    env = {**os.environ, **s3.environment}
    node = subprocess.Popen([sys.executable, "-c", uploader], env=env)
    blobs = S3BlobStorage(url, tmp_path / "staging")
    try:
        deadline = time.monotonic() + 60
        while not list(blobs.unfinished_uploads()):
            assert node.poll() is None and time.monotonic() < deadline, "no upload began"
            time.sleep(0.02)
        node.send_signal(signal.SIGKILL)
    finally:
        node.kill()
        node.wait()
    assert not blobs.exists("ab" * 20) and len(list(blobs.unfinished_uploads())) == 1
    store = LocalStore(tmp_path / "data", blobs=blobs)
    monkeypatch.setattr(maintenance, "BLOB_GRACE_SECONDS", 0.0)
    store.purge_trash()
    assert list(blobs.unfinished_uploads()) == [] and not blobs.exists("ab" * 20)
    store.close()


def test_side_files_unfinished_uploads_are_noted_and_aborted_like_the_images(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Side files' bytes (a big ``name~``) have a prefix of their own in the bucket: the
    commands that clean up after a stopped node look there too."""
    url = s3.new_url()
    side = S3BlobStorage(url, tmp_path / "staging", area="side")
    runner = CliRunner()
    command = ["--data", str(tmp_path / "data"), "--blobs", url]
    assert runner.invoke(cli, [*command, "org", "create", "demo"]).exit_code == 0
    begin_upload(s3, f"{prefix_of(url)}/side/cd/cd/{'cd' * 20}")
    checked = runner.invoke(cli, [*command, "check"])
    assert "note: side files: unfinished multipart upload of " + "cd" * 20 in checked.output
    assert runner.invoke(cli, [*command, "trash", "purge"]).exit_code == 0
    assert len(list(side.unfinished_uploads())) == 1  # (begun just now)
    monkeypatch.setattr(maintenance, "BLOB_GRACE_SECONDS", 0.0)  # (an hour later)
    assert runner.invoke(cli, [*command, "trash", "purge"]).exit_code == 0
    assert list(side.unfinished_uploads()) == []
    begin_upload(s3, f"{prefix_of(url)}/side/ef/ef/{'ef' * 20}")
    repaired = runner.invoke(cli, [*command, "check", "--repair"])
    assert "repaired: 1 leftovers removed" in repaired.output, repaired.output
    assert list(side.unfinished_uploads()) == [] and "multipart" not in repaired.output


def test_the_rest_purge_and_check_look_at_the_side_files_too(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DELETE /trash`` and ``GET /check`` on a server: the side files' multipart leftovers
    are noted and aborted like those of the images (only for the administrator)."""
    url = s3.new_url()
    data = tmp_path / "data"
    side = S3BlobStorage(url, tmp_path / "staging", area="side")
    store = LocalStore(data, blobs=S3BlobStorage(url, tmp_path / "staging"))
    store.create_organization("acme")
    registry = AccessRegistry(data)
    member, member_key = registry.create_user("member@example.org")
    registry.set_membership("acme", member.id, ["admin"])  # (an organization's admin only)
    key = "k" * 64
    begin_upload(s3, f"{prefix_of(url)}/side/cd/cd/{'cd' * 20}")
    monkeypatch.setattr(maintenance, "BLOB_GRACE_SECONDS", 0.0)  # (as if an hour later)
    server = make_server(
        store, lambda: [key], port=0, data_dir=data, side_blobs=side, registry=registry
    )
    with running_server(server) as base, httpx.Client(base_url=base, timeout=30) as api:
        for refused in (member_key, "x" * 64):
            assert api.delete("/trash", headers={"Api-Key": refused}).status_code == 403
            assert api.get("/check", headers={"Api-Key": refused}).status_code == 403
        assert len(list(side.unfinished_uploads())) == 1  # (nobody else changed anything)
        notes = api.get("/check", headers={"Api-Key": key}).json()["notes"]
        assert "side files: unfinished multipart upload of " + "cd" * 20 in " ".join(notes)
        assert api.delete("/trash", headers={"Api-Key": key}).status_code == 200
        assert list(side.unfinished_uploads()) == []
        notes = api.get("/check", headers={"Api-Key": key}).json()["notes"]
        assert not any("multipart" in note for note in notes)
    registry.close()
    store.close()
