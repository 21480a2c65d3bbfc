"""``rokkafs mount --remote``: the FUSE face on a RemoteStore talking to another rokkafs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import images
import pytest

from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

pytestmark = pytest.mark.timeout(120)
KEY = "r" * 64


def test_mount_on_a_remote_store(tmp_path: Path) -> None:
    if not Path("/dev/fuse").exists() or not shutil.which("fusermount3"):
        pytest.skip("no FUSE here")
    origin = LocalStore(tmp_path / "origin")
    origin.create_organization("acme")
    root = tmp_path / "mnt"
    root.mkdir()
    with running_server(make_server(origin, lambda: [KEY], port=0)) as url:
        command = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "local")]
        command += ["mount", str(root), "--remote", url, "--api-key", KEY]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not os.path.ismount(root):
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            assert os.listdir(root) == ["acme"]
            data = images.jpeg(color=6)
            (root / "acme" / "far.jpg").write_bytes(data)
            assert (root / "acme" / "far.jpg").read_bytes() == data
            os.setxattr(root / "acme" / "far.jpg", "user.rokka.meta.title", b"far away")
        finally:
            subprocess.run(["fusermount3", "-u", "-z", str(root)], capture_output=True)
            process.wait(timeout=10)
    images_there = origin.list_source_images("acme").items
    assert [(i.name, dict(i.user_metadata)) for i in images_there] == [
        ("far.jpg", {"title": "far away"})
    ]
    origin.close()


@pytest.mark.parametrize("how", ["sigterm", "sigint", "umount"])
def test_clean_unmount(tmp_path: Path, how: str) -> None:
    import signal

    if not Path("/dev/fuse").exists() or not shutil.which("fusermount3"):
        pytest.skip("no FUSE here")
    data, root = tmp_path / "data", tmp_path / "mnt"
    root.mkdir()
    LocalStore(data).create_organization("acme")
    base = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    process = subprocess.Popen(
        [*base, "mount", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(root):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        if how == "umount":
            assert subprocess.run([*base, "umount", str(root)], timeout=30).returncode == 0
        else:
            process.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert not os.path.ismount(root)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(root)], capture_output=True)
        if process.poll() is None:
            process.kill()
            process.wait()
