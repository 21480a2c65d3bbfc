"""The Linux mount scripts, exercised: the davfs2 script mounts a real rokkafs; the systemd
units' commands are valid rokkafs command lines."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import images
import pytest

from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

SCRIPTS = Path(__file__).resolve().parent.parent / "mount_scripts"
KEY = "m" * 64


def test_every_script_says_what_it_does_and_needs() -> None:
    for script in SCRIPTS.iterdir():
        text = script.read_text()
        assert "What it does" in text and "What it needs" in text, script.name


@pytest.mark.parametrize("unit", ["rokkafs-serve.service", "rokkafs-mount.service"])
def test_systemd_units_run_valid_commands(unit: str) -> None:
    lines = (SCRIPTS / unit).read_text().splitlines()
    commands = [
        line.split("=", 1)[1] for line in lines if line.startswith(("ExecStart=", "ExecStop="))
    ]
    assert commands
    for command in commands:
        arguments = shlex.split(command)[1:]  # drop the installed binary's path
        result = subprocess.run(
            [sys.executable, "-m", "rokkafs.cli", *arguments, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (command, result.stderr)


def test_linux_davfs2_script_mounts_rokkafs(tmp_path: Path) -> None:
    if not shutil.which("mount.davfs") or not Path("/dev/fuse").exists() or os.getuid() != 0:
        pytest.skip("davfs2 needs mount.davfs, /dev/fuse and root here")
    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("acme")
    mountpoint = tmp_path / "mnt"
    with running_server(make_server(store, lambda: [KEY], port=0, data_dir=data)) as url:
        env = {**os.environ, "ROKKAFS_API_KEY": KEY}
        script = [
            str(SCRIPTS / "linux-davfs2.sh"),
            f"{url}/dav/",
            str(mountpoint),
            str(tmp_path / "conf"),
        ]
        mounted = subprocess.run(script, env=env, capture_output=True, text=True, timeout=60)
        assert mounted.returncode == 0, mounted.stderr
        try:
            assert (tmp_path / "conf" / "secrets").stat().st_mode & 0o777 == 0o600
            (mountpoint / "acme" / "via-script.png").write_bytes(images.png(color=12))
        finally:
            subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=60)
        assert [i.name for i in store.list_source_images("acme").items] == ["via-script.png"]
    store.close()
