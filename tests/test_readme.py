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
