"""The SQLite metadata index (WAL mode; safe for several threads and processes).

Each thread gets its own connection. Write transactions start with ``BEGIN IMMEDIATE`` so
two writers never deadlock on a lock upgrade; readers never block writers (WAL). The
statements themselves are shared with PostgreSQL (:mod:`rokkafs.store.index.sql`).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from rokkafs.db.sqlite import Database, Transaction
from rokkafs.store.index import IndexTransaction, MetadataIndex
from rokkafs.store.index.sql import SqlTransaction

__all__ = ["SqliteIndex"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    billing_email TEXT NOT NULL,
    created REAL NOT NULL,
    master_organization TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS blobs (
    blob_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_deletions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    blob_id TEXT NOT NULL,
    done INTEGER NOT NULL,
    at REAL NOT NULL,
    claim TEXT
);
CREATE INDEX IF NOT EXISTS blob_deletions_by_blob ON blob_deletions (blob_id);
CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org TEXT NOT NULL REFERENCES organizations(name),
    hash TEXT NOT NULL,
    short_hash TEXT NOT NULL,
    binary_hash TEXT NOT NULL,
    blob_id TEXT NOT NULL REFERENCES blobs(blob_id),
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    mimetype TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    opaque INTEGER,
    animated INTEGER,
    locked INTEGER NOT NULL,
    protected INTEGER NOT NULL,
    created REAL NOT NULL,
    mtime REAL NOT NULL,
    deleted_at REAL,
    user_metadata TEXT NOT NULL,
    dynamic_metadata TEXT NOT NULL,
    md5 TEXT,
    UNIQUE (org, hash),
    UNIQUE (org, short_hash)
);
CREATE INDEX IF NOT EXISTS images_by_created ON images (org, deleted_at, created, seq);
DROP INDEX IF EXISTS images_by_binary_hash;
CREATE INDEX IF NOT EXISTS images_by_binary_hash_created
    ON images (org, binary_hash, deleted_at, created, seq);
DROP INDEX IF EXISTS images_by_name;
CREATE INDEX IF NOT EXISTS images_by_name_created ON images (org, name, deleted_at, created, seq);
CREATE INDEX IF NOT EXISTS images_by_blob ON images (blob_id);
CREATE INDEX IF NOT EXISTS images_in_trash ON images (deleted_at) WHERE deleted_at IS NOT NULL;
"""


class _Scope:
    """One database transaction seen as an :class:`IndexTransaction`."""

    __slots__ = ("_transaction",)

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def __enter__(self) -> IndexTransaction:
        return SqlTransaction(self._transaction.__enter__())

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self._transaction.__exit__(kind, *rest)


class SqliteIndex(MetadataIndex):
    """The metadata index in one SQLite database file."""

    def __init__(self, path: Path) -> None:
        self._database = Database(path, SCHEMA, rows=True)
        self._cleanup_lock = path.with_name(path.name + ".cleanup")
        with self._database.transaction("BEGIN IMMEDIATE") as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(images)")}
            if "md5" not in columns:  # (an index made before MD5s were kept)
                db.execute("ALTER TABLE images ADD COLUMN md5 TEXT")
            columns = {row[1] for row in db.execute("PRAGMA table_info(blob_deletions)")}
            if "claim" not in columns:  # (made before clean-ups named their marks)
                db.execute("ALTER TABLE blob_deletions ADD COLUMN claim TEXT")

    def read(self) -> AbstractContextManager[IndexTransaction]:
        return _Scope(self._database.transaction("BEGIN"))

    def write(self) -> AbstractContextManager[IndexTransaction]:
        return _Scope(self._database.transaction("BEGIN IMMEDIATE"))

    def lookup(self) -> AbstractContextManager[IndexTransaction]:
        return _Scope(self._database.autocommit())

    @contextmanager
    def cleanup_turn(self) -> Iterator[bool]:
        with self._cleanup_lock.open("a") as handle:  # (released when the file closes)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def close(self) -> None:
        self._database.close()
