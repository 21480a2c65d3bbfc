"""A private PostgreSQL cluster for the tests: ``initdb`` into a temp dir as the ``postgres``
user (PostgreSQL refuses to run as root), listening on 127.0.0.1 at a free port, stopped by
its process id at the end. Each test gets a database of its own."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support import free_port

__all__ = ["PostgresCluster", "postgres_cluster"]


def _binaries() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert versions, "PostgreSQL is required (Debian package postgresql; .ci/run installs it)"
    return versions[-1].parent


class PostgresCluster:
    """A running cluster; :meth:`new_database` makes an empty database and returns its URL."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._numbers = itertools.count()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A URL of an empty database of its own: a fresh schema of the tests' database, made
        the connections' search path (a schema is made in milliseconds, a database not)."""
        import psycopg

        name = f"test_{next(self._numbers)}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.admin_url}?options=-csearch_path%3D{name}"


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster in a temp dir; stop it (by its pid) and remove the dir at the end."""
    binaries = _binaries()
    folder = Path(tempfile.mkdtemp(prefix="rokkafs-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        _as_postgres(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"),
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        _as_postgres(
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={folder}",
            "-c",
            "fsync=off",  # (a throw-away cluster: the store's own fsyncs are tested elsewhere)
            "-c",
            "max_connections=300",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        cluster = PostgresCluster(port)
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.1)
        yield cluster
    finally:
        # runuser does not pass signals on: stop the postmaster itself, by the pid it wrote
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            postmaster = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGQUIT)  # (immediate: the cluster is thrown away)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
