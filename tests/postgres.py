"""A private PostgreSQL cluster for the tests: ``initdb`` into a temp dir as the ``postgres``
user (PostgreSQL refuses to run as root), listening on 127.0.0.1 at a free port, stopped by
its postmaster's process id at the end. Each test gets a schema of its own."""

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

__all__ = ["INDEX_WRITE_LOCK", "PostgresCluster", "postgres_cluster"]

# the index's write lock, an advisory lock key (rokkafs.store.index.postgres)
INDEX_WRITE_LOCK = 7_531_001


def _binaries() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert versions, "PostgreSQL is required (Debian package postgresql; .ci/run installs it)"
    return versions[-1].parent


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PostgresCluster:
    """A cluster in a temp folder: :meth:`new_database` makes an empty schema and returns its
    URL; :meth:`stop` and :meth:`start` take the server down and up again (same port)."""

    def __init__(self, folder: Path) -> None:
        self._binaries = _binaries()
        self._folder = folder
        self._data = folder / "data"
        self.port = free_port()
        self._numbers = itertools.count()
        self._server: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        initdb = [str(self._binaries / "initdb"), "-D", str(self._data), "-U", "postgres"]
        subprocess.run(_as_postgres(*initdb, "-A", "trust"), check=True, capture_output=True)

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

    def start(self) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self._folder),
            "fsync": "off",  # (a throw-away cluster: the store's own fsyncs are tested elsewhere)
            "max_connections": "300",
        }
        options = [f"-c{name}={value}" for name, value in settings.items()]
        command = [str(self._binaries / "postgres"), "-D", str(self._data), "-p", str(self.port)]
        self._server = subprocess.Popen(
            _as_postgres(*command, *options), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        ready = [str(self._binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready, capture_output=True).returncode != 0:
            if self._server.poll() is not None:
                raise RuntimeError(self._server.stderr.read() if self._server.stderr else b"")
            assert time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (runuser does not pass signals on: the postmaster is signalled by
        the pid it wrote)."""
        server, self._server = self._server, None
        if server is None:
            return
        pid_file = self._data / "postmaster.pid"
        if pid_file.exists():
            postmaster = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGQUIT)  # (immediate: nothing here is kept)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()  # (an immediate stop leaves it)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster in a temp dir; stop it and remove the dir at the end."""
    folder = Path(tempfile.mkdtemp(prefix="rokkafs-pg-"))
    cluster = PostgresCluster(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
