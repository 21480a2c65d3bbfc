"""davfs2 mounts rokkafs's WebDAV and copies an image in (where the machine allows FUSE)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import images
import pytest
from davsupport import DavServer

pytestmark = pytest.mark.timeout(120)


def test_davfs2_mount_copy_and_read_back(any_dav_server: DavServer, tmp_path: Path) -> None:
    mount_davfs = shutil.which("mount.davfs")
    if mount_davfs is None or not Path("/dev/fuse").exists() or os.getuid() != 0:
        pytest.skip("davfs2 needs mount.davfs, /dev/fuse and root here")
    secrets = tmp_path / "secrets"
    secrets.write_text(f"{any_dav_server.dav}/ someone {any_dav_server.key}\n")
    secrets.chmod(0o600)
    conf = tmp_path / "davfs2.conf"
    conf.write_text(f"secrets {secrets}\nuse_locks 1\n")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    picture = images.jpeg(color=8, size=(160, 120))
    mounted = subprocess.run(
        [mount_davfs, "-o", f"conf={conf}", f"{any_dav_server.dav}/", str(mountpoint)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert mounted.returncode == 0, mounted.stderr
    try:
        target = mountpoint / "acme" / "from-davfs.jpg"
        target.write_bytes(picture)
        assert target.stat().st_size == len(picture)
        assert target.read_bytes() == picture
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=60)
    deadline = time.monotonic() + 30
    names: list[str] = []
    while time.monotonic() < deadline:
        names = [i.name for i in any_dav_server.store.list_source_images("acme").items]
        if names:
            break
        time.sleep(0.2)
    assert names == ["from-davfs.jpg"]
