"""The SQLite connection pool does not leak a connection per thread."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import in_threads

from rokkafs.db import sqlite as sqlite_db
from rokkafs.db.sqlite import IDLE_CONNECTIONS, Database


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_short_lived_threads_do_not_leak_connections(tmp_path: Path) -> None:
    database = Database(tmp_path / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    with database.transaction() as db:
        db.execute("INSERT INTO t VALUES (1)")
    before = open_descriptors()

    def work() -> None:
        with database.reading() as db:
            assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1

    for _ in range(300):  # like FUSE worker threads that come and go
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    # each idle connection holds the database and its WAL files open
    assert open_descriptors() - before <= 3 * IDLE_CONNECTIONS
    database.close()


def test_a_failed_transaction_rolls_back(tmp_path: Path) -> None:
    database = Database(tmp_path / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    try:
        with database.transaction() as db:
            db.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with database.reading() as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    database.close()


def test_a_commit_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    """WAL with synchronous=FULL: each commit fsyncs the log (NORMAL would only fsync at
    checkpoints, and an acknowledged upload could be lost to a power cut)."""
    database = Database(tmp_path / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    with database.transaction() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # (FULL)
    database.close()


def test_writers_of_one_process_wait_their_turn_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process's writers queue on its own lock (woken at once when it is free); SQLite's
    busy timeout, which polls with growing sleeps, is then only for other processes: here it
    is shorter than each write, and still no writer fails."""
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_SECONDS", 0.02)
    database = Database(tmp_path / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    failures: list[Exception] = []

    def write(value: int) -> None:
        try:
            with database.transaction() as db:
                db.execute("INSERT INTO t VALUES (?)", (value,))
                time.sleep(0.1)
        except sqlite3.OperationalError as exc:
            failures.append(exc)

    in_threads(write, [(i,) for i in range(6)])
    assert failures == []
    with database.reading() as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 6
    database.close()


def _write_on(path: str, seconds: float) -> None:
    """Four threads writing back to back (in a process of its own)."""
    database = Database(Path(path), "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    end = time.monotonic() + seconds

    def write() -> None:
        while time.monotonic() < end:
            with database.transaction() as db:
                db.execute("INSERT INTO t VALUES (1)")
                time.sleep(0.01)

    in_threads(write, [()] * 4)
    database.close()


def test_a_process_gets_its_turn_while_another_writes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processes take turns through an flock that wakes a waiter at once: with SQLite's busy
    timeout (which polls) shortened here, this process's writes still get their turns while
    another process's threads write back to back."""
    path = tmp_path / "x.sqlite3"
    Database(path, "CREATE TABLE IF NOT EXISTS t (v INTEGER);").query("SELECT 1")
    other = multiprocessing.get_context("fork").Process(target=_write_on, args=(str(path), 3))
    other.start()
    time.sleep(0.5)  # (it is writing on)
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_SECONDS", 0.15)
    database = Database(path, "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    for _ in range(10):
        with database.transaction() as db:
            db.execute("INSERT INTO t VALUES (-1)")
    other.join(30)
    assert other.exitcode == 0
    with database.reading() as db:
        assert db.execute("SELECT COUNT(*) FROM t WHERE v = -1").fetchone()[0] == 10
    database.close()


def test_query_reads_without_a_transaction_left_open(tmp_path: Path) -> None:
    database = Database(tmp_path / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    with database.transaction() as db:
        db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert database.query("SELECT v FROM t WHERE v > ? ORDER BY v", (0,)) == [(1,), (2,)]
    with database.transaction() as db:  # a writer is not blocked by the finished read
        db.execute("DELETE FROM t")
    assert database.query("SELECT COUNT(*) FROM t") == [(0,)]
    database.close()


def test_autocommit_reads_see_each_commit_and_hold_no_snapshot(tmp_path: Path) -> None:
    database = Database(tmp_path / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    with database.autocommit() as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
        assert not db.in_transaction
        with database.transaction() as other:  # a writer commits between two statements
            other.execute("INSERT INTO t VALUES (1)")
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
    with database.reading() as db:  # (a snapshot would have said 0 both times)
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
    database.close()


def _open_and_write(path: str, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        database = Database(Path(path), "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
        with database.transaction() as db:
            db.execute("INSERT INTO t VALUES (1)")
        database.close()
    except Exception as exc:  # (reported to the test, which fails on any)
        errors.put(repr(exc))


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    """``serve --workers`` opens each new database file in every worker at the same moment:
    SQLite refuses the losers' switch to WAL at once ("database is locked"); they ask again."""
    context = multiprocessing.get_context("fork")
    for trial in range(15):
        path = str(tmp_path / f"{trial}.sqlite3")
        barrier, errors = context.Barrier(6), context.Queue()
        workers = [
            context.Process(target=_open_and_write, args=(path, barrier, errors)) for _ in range(6)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        reported = []
        while not errors.empty():
            reported.append(errors.get())
        assert reported == [] and all(w.exitcode == 0 for w in workers)
        database = Database(Path(path), "")
        with database.reading() as db:
            assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 6
        database.close()
