"""One SQLite database file shared by threads and processes (WAL; ``BEGIN IMMEDIATE`` for
writes so writers never deadlock upgrading a lock).

Connections are pooled, not tied to threads: FUSE and server worker threads come and go, and
a connection per thread would leak one file descriptor per thread ever started.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Database", "Transaction"]

IDLE_CONNECTIONS = 16
BUSY_TIMEOUT_SECONDS = 60.0  # (how long a writer waits for another process's write)
WRITER_WAIT_SECONDS = 60.0  # (how long for a write of its own process, then as above)


def _write_ahead_log(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode. Processes opening a new file at the same moment (``serve
    --workers``, a server and a mount started together) race for it, and SQLite answers
    the losers "database is locked" at once, without waiting the busy timeout: ask again."""
    deadline = time.monotonic() + 60
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class WriterTurn:
    """Whose turn it is to write one database: this process's writers queue on a lock of its
    own, and processes on an ``flock`` of ``<database>.writer``; both wake a waiter as soon
    as the turn is free. (SQLite's busy handler polls with sleeps growing to 100 ms, so with
    it alone a writer of one process seldom gets a turn while another process writes on.)"""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0  # (turns taken by the thread holding the lock: they nest)
        self._fd: int | None = None

    def take(self) -> bool:
        """Wait for the turn (False after ``WRITER_WAIT_SECONDS``: then SQLite decides)."""
        if not self._lock.acquire(timeout=WRITER_WAIT_SECONDS):
            return False
        try:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._lock.release()
            raise
        return True

    def give(self) -> None:
        """End a turn taken with :meth:`take`."""
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def close(self) -> None:
        """Close the lock file, unless a turn is taken (it is closed with the process)."""
        if self._lock.acquire(blocking=False):
            try:
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
            finally:
                self._lock.release()


class Database:
    """A pool of connections to one database file, created with ``schema`` on first use."""

    def __init__(self, path: Path, schema: str, *, rows: bool = False) -> None:
        self._path = path
        self._schema = schema
        self._rows = rows
        self._idle: list[sqlite3.Connection] = []  # list.pop/append are atomic
        self._closed = False
        self.writer = WriterTurn(path.with_name(path.name + ".writer"))

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        if self._rows:
            connection.row_factory = sqlite3.Row
        _write_ahead_log(connection)
        connection.execute("PRAGMA synchronous = FULL")  # (a commit is durable when it returns)
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(f"BEGIN IMMEDIATE; {self._schema} COMMIT;")
        return connection

    def _borrow(self) -> sqlite3.Connection:
        try:
            return self._idle.pop()
        except IndexError:
            return self._open()

    def _give_back(self, connection: sqlite3.Connection) -> None:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if not self._closed and len(self._idle) < IDLE_CONNECTIONS:
            self._idle.append(connection)
            if self._closed:  # close() ran meanwhile: do not keep it
                self.close()
        else:
            connection.close()

    def transaction(self, begin: str = "BEGIN IMMEDIATE") -> Transaction:
        """A transaction: committed on success, rolled back on any exception."""
        return Transaction(self, begin)

    def reading(self) -> Transaction:
        """A read transaction (a consistent snapshot)."""
        return Transaction(self, "BEGIN")

    def autocommit(self) -> Transaction:
        """A borrowed connection without a transaction: each statement reads the latest
        commit on its own (no BEGIN/COMMIT round trips), for reads that need no snapshot."""
        return Transaction(self, None)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """All rows of one read statement (its own implicit transaction)."""
        connection = self._borrow()
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            self._give_back(connection)

    def close(self) -> None:
        """Close the idle connections; borrowed ones are closed when given back."""
        self._closed = True
        self.writer.close()
        while True:
            try:
                self._idle.pop().close()
            except IndexError:
                return


class Transaction:
    """``with database.transaction() as connection:`` (a class, not a generator: it runs on
    every metadata lookup)."""

    __slots__ = ("_begin", "_connection", "_database", "_holds", "_writes")

    def __init__(self, database: Database, begin: str | None) -> None:
        self._database = database
        self._begin = begin
        self._writes = begin is not None and begin != "BEGIN"
        self._holds = False
        self._connection: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        if self._writes:  # (never forever: after the busy timeout SQLite decides, as before)
            self._holds = self._database.writer.take()
        try:
            connection = self._database._borrow()
            try:
                if self._begin is not None:
                    connection.execute(self._begin)
            except BaseException:
                self._database._give_back(connection)
                raise
        except BaseException:
            self._release_writer()
            raise
        self._connection = connection
        return connection

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        connection, self._connection = self._connection, None
        assert connection is not None
        try:
            if kind is None and connection.in_transaction:
                connection.execute("COMMIT")
            elif connection.in_transaction:
                connection.execute("ROLLBACK")
        finally:
            self._database._give_back(connection)
            self._release_writer()

    def _release_writer(self) -> None:
        if self._holds:
            self._holds = False
            self._database.writer.give()
