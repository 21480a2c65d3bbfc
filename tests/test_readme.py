"""The README's quick start, run verbatim: the first command in a fresh copy of the repository
(with its own fresh virtual environment) must bring up rokkafs on its embedded store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", text, re.S)
    assert block, "the README has a quick start block"
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    return commands[0], commands[1]


def test_the_test_command_is_what_ci_runs() -> None:
    _, test_command = quick_start()
    assert test_command == "bash .ci/run"
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.timeout(600)
def test_the_first_quick_start_command_starts_rokkafs(tmp_path: Path) -> None:
    start, _ = quick_start()
    copy = tmp_path / "rokkafs"
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    log = (tmp_path / "quickstart.log").open("w")
    process = subprocess.Popen(
        ["bash", "-c", start],
        cwd=copy,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 540
        while True:
            key_file = copy / "rokkafs-data" / "admin-api-key"
            try:
                key = key_file.read_text().strip()
                answer = httpx.get("http://127.0.0.1:8080/", headers={"Api-Key": key}, timeout=5)
                break
            except (OSError, httpx.TransportError):
                assert process.poll() is None, (tmp_path / "quickstart.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the quick start did not come up"
                time.sleep(1)
        assert answer.status_code == 200
        dav = httpx.request("PROPFIND", "http://127.0.0.1:8080/dav/", auth=("me", key))
        assert dav.status_code == 207
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.close()
    output = (tmp_path / "quickstart.log").read_text()
    assert "created the admin API key" in output
    assert "rokkafs serves the REST API at http://127.0.0.1:8080/" in output


def mount_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*FUSE mount\*\*.*?```sh\n(.*?)```", text, re.S)
    assert block, "the README has a mount example"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.timeout(120)
def test_the_mount_example_runs_verbatim_with_its_relative_data_path(tmp_path: Path) -> None:
    """The README's mount lines, as a newcomer pastes them into a shell in the checkout (a
    relative ``--data``, ``~/Pictures``, ``/mnt/images``), then read back through the mount."""
    assert not os.path.ismount("/mnt/images"), "/mnt/images is in use on this machine"
    import images

    home, checkout = tmp_path / "home", tmp_path / "checkout"
    (home / "Pictures").mkdir(parents=True)
    cat = images.jpeg(color=3)
    (home / "Pictures" / "cat.jpg").write_bytes(cat)
    checkout.mkdir()
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    env = {**os.environ, "HOME": str(home)}
    prepare = "mkdir -p rokkafs-data && .venv/bin/rokkafs --data ./rokkafs-data org create demo"
    subprocess.run(["bash", "-c", prepare], cwd=checkout, env=env, check=True)
    lines = mount_block()
    script = "\n".join(
        [
            "set -e",
            lines[0],  # the mount, in the background
            "for i in $(seq 100); do mountpoint -q /mnt/images && break; sleep 0.1; done",
            *lines[1:-1],
            "cat /mnt/images/demo/pictures/cat.jpg > read-back.jpg",
            "getfattr --only-values -n user.rokka.meta.title "
            "/mnt/images/demo/pictures/cat.jpg > title.txt",
            "rsync -a --itemize-changes ~/Pictures/ /mnt/images/demo/pictures/ > second-run.txt",
            lines[-1],  # the unmount
            "wait",
        ]
    )
    try:
        done = subprocess.run(
            ["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True
        )
    finally:
        subprocess.run(["fusermount3", "-u", "-z", "/mnt/images"], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (checkout / "read-back.jpg").read_bytes() == cat
    assert (checkout / "title.txt").read_text() == "A cat"
    changes = (checkout / "second-run.txt").read_text().splitlines()
    assert [c for c in changes if not c.startswith(".d")] == []  # a second run copies nothing
    assert not os.path.ismount("/mnt/images")


def test_the_settings_block_shows_the_real_defaults() -> None:
    import tomllib

    from rokkafs.cli.faces import mount_command, serve
    from rokkafs.settings import Settings
    from rokkafs.store.config import StoreConfig

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block, "the README shows the settings file"
    shown = tomllib.loads(block.group(1))
    config, settings = StoreConfig(), Settings(data=ROOT)
    assert shown["store"] == {
        "max_upload_bytes": config.max_upload_bytes,
        "max_pixels": config.max_pixels,
        "allow_private_urls": config.allow_private_urls,
        "trash_days": settings.trash_days,
    }
    import click

    defaults = {
        p.name: p.get_default(click.Context(command))
        for command in (serve, mount_command)
        for p in command.params
    }
    assert shown["serve"] == {"host": defaults["host"], "port": defaults["port"]}
    assert shown["mount"] == {"read_only": defaults["read_only"]}
