"""``rokkafs serve --workers N``: N processes answer on one port, share the store and the
WebDAV locks, and stop together."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import images
import psutil
import pytest
from support import serving

from rokkafs.store.local import LocalStore

pytestmark = pytest.mark.timeout(120)

LOCK_BODY = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>"
)


def listening(process: psutil.Process, port: int) -> bool:
    return any(
        c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in process.net_connections()
    )


def gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_workers_share_the_port_the_store_and_the_locks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with serving(data, "--workers", "3") as (url, key, server):
        port = int(url.rsplit(":", 1)[1])
        parent = psutil.Process(server.pid)
        workers = [parent, *parent.children()]
        deadline = time.monotonic() + 30  # (the first to listen answered; the others follow)
        while not all(listening(w, port) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 3 and all(listening(w, port) for w in workers)
        auth = ("me", key)
        for i in range(12):  # (each on a connection of its own: the kernel spreads them)
            put = httpx.put(f"{url}/dav/acme/{i}.png", content=images.png(color=i), auth=auth)
            assert put.status_code == 201, put.text
        for i in range(12):
            assert httpx.get(f"{url}/dav/acme/{i}.png", auth=auth).content == images.png(color=i)
        locked = httpx.request("LOCK", f"{url}/dav/acme/0.png", content=LOCK_BODY, auth=auth)
        assert locked.status_code == 200
        for _ in range(9):  # (whichever worker answers knows the lock)
            refused = httpx.put(f"{url}/dav/acme/0.png", content=images.png(color=50), auth=auth)
            assert refused.status_code == 423
        server.send_signal(signal.SIGTERM)
        assert gone([w.pid for w in workers], 15), "a worker outlived the server"
    assert len(LocalStore(data).list_source_images("acme").items) == 12


def test_a_dead_worker_stops_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with serving(data, "--workers", "2") as (_, _, server):
        parent = psutil.Process(server.pid)
        (child,) = parent.children()
        child.kill()  # (not serving on, unnoticed, with fewer workers)
        assert gone([parent.pid], 15)
        assert server.wait(15) == 1  # (a failure: a supervisor restarts it)


def test_workers_on_postgresql_and_a_bucket(
    postgres: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the first start opens (a database pool, the S3 client's runtime) is opened in a
    child of its own: a worker forked from a process that had them would hang on S3."""
    for name, value in s3.environment.items():
        monkeypatch.setenv(name, value)
    options = ("--index", postgres.new_database(), "--blobs", s3.new_url())
    data = tmp_path / "data"
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(data), *options]
    subprocess.run([*cli, "org", "create", "acme"], check=True, capture_output=True)
    with serving(data, "--workers", "2", before=options) as (url, key, server):
        parent = psutil.Process(server.pid)
        assert len(parent.children()) == 1
        auth = ("me", key)
        for i in range(8):
            put = httpx.put(f"{url}/dav/acme/{i}.png", content=images.png(color=i), auth=auth)
            assert put.status_code == 201, put.text
        for i in range(8):
            assert httpx.get(f"{url}/dav/acme/{i}.png", auth=auth).content == images.png(color=i)
        server.send_signal(signal.SIGTERM)
        assert gone([parent.pid, *(c.pid for c in parent.children())], 15)


def test_workers_end_with_a_server_killed_outright(tmp_path: Path) -> None:
    """SIGKILL gives the server no chance to stop its workers: the kernel does (else they
    would serve on, holding the port)."""
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with serving(data, "--workers", "3") as (url, _, server):
        assert len(psutil.Process(server.pid).children()) == 2
        kill_and_see_the_workers_end(server, url)


def kill_and_see_the_workers_end(server: subprocess.Popen[str], url: str) -> None:
    """SIGKILL the server's first process: its workers must end and free the port."""
    workers = psutil.Process(server.pid).children()
    server.send_signal(signal.SIGKILL)
    server.wait()
    assert gone([w.pid for w in workers], 15), "a worker outlived its server"
    with socket.socket() as probe:  # (nothing listens on the port any more)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))


HUNG_STOP = """
import time
from rokkafs import processes

processes.STOP_SECONDS = 1.0


def serve() -> None:  # a stop that never ends (cheroot's thread pool once waited forever)
    while True:
        try:
            time.sleep(0.05)
        except SystemExit:
            continue


processes.serve_in_processes(2, serve)
"""


def test_a_stop_that_hangs_ends_after_its_deadline(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", HUNG_STOP], stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    workers: list[psutil.Process] = []
    try:
        parent = psutil.Process(server.pid)
        deadline = time.monotonic() + 30
        while not parent.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = parent.children()
        assert len(workers) == 1
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 1
        assert gone([w.pid for w in workers], 10), "a worker outlived its server"
        assert server.stderr is not None
        assert "the server did not stop within 1 s; ending it" in server.stderr.read()
    finally:
        for process in [*workers, server]:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                process.kill()
        server.wait()
        if server.stderr is not None:
            server.stderr.close()
