"""One SQLite database file shared by threads and processes (WAL; ``BEGIN IMMEDIATE`` for
writes so writers never deadlock upgrading a lock).

Connections are pooled, not tied to threads: FUSE and server worker threads come and go, and
a connection per thread would leak one file descriptor per thread ever started.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Database"]

IDLE_CONNECTIONS = 16


class Database:
    """A pool of connections to one database file, created with ``schema`` on first use."""

    def __init__(self, path: Path, schema: str, *, rows: bool = False) -> None:
        self._path = path
        self._schema = schema
        self._rows = rows
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, timeout=60.0, isolation_level=None, check_same_thread=False
        )
        if self._rows:
            connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(f"BEGIN IMMEDIATE; {self._schema} COMMIT;")
        return connection

    @contextmanager
    def _borrowed(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._open()
        try:
            yield connection
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            with self._lock:
                keep = not self._closed and self._idle.qsize() < IDLE_CONNECTIONS
            if keep:
                self._idle.put(connection)
            else:
                connection.close()

    @contextmanager
    def transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """A transaction: committed on success, rolled back on any exception."""
        with self._borrowed() as connection:
            connection.execute(begin)
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (a consistent snapshot)."""
        with self.transaction("BEGIN") as connection:
            yield connection

    def close(self) -> None:
        """Close the idle connections; borrowed ones are closed when given back."""
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
