"""The metadata index on PostgreSQL (``--index postgresql://…``), for several rokkafs nodes
sharing one database (``docs/architecture.md#scaling-out``).

The statements are SQLite's (:mod:`rokkafs.store.index.sql`): ``?`` placeholders become
``%s`` once per statement text, and rows read by column name or position as there. Text
columns that are compared by ranges (names, hashes) use the "C" collation, so every engine
orders them by code point alike.

Consistency: a write transaction first takes one transaction-level advisory lock, so writes
run one at a time across every node, exactly as SQLite's ``BEGIN IMMEDIATE`` does on one
machine; the rules written for that (one decision per path write, unique short hashes, copy
batches) hold unchanged. Writes are short (no bytes move inside them). The file faces' path
writes (most uploads) take that lock shared instead, so they run alongside each other but
never alongside any other write, plus locks of what they decide on: their name exclusive,
its folders' names shared (a file named like one of them, or inside the name, waits), and
the first six characters of their new record's hash exclusive (short hashes, variants).
Reads are consistent snapshots (``REPEATABLE READ``) and never wait for writes.

The schema is versioned (:class:`rokkafs.db.postgres.PgDatabase`): migrations run once, under an
advisory lock, when a node opens the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from rokkafs.db.changes import path_triggers
from rokkafs.db.postgres import PgConnection, PgDatabase, lock_key
from rokkafs.model import folders_of
from rokkafs.store.index import IndexTransaction, MetadataIndex, PathScope
from rokkafs.store.index.sql import SqlTransaction
from rokkafs.store.index.sql_search import POSTGRES

__all__ = ["PostgresIndex"]

_WRITE_LOCK = 7_531_001  # (advisory lock keys of rokkafs)
_CLEANUP_TURN = 7_531_006

# version -> statements; a database is brought to the last version in order
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE organizations (
            name TEXT COLLATE "C" PRIMARY KEY,
            id TEXT NOT NULL,
            display_name TEXT NOT NULL,
            billing_email TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            master_organization TEXT NOT NULL,
            options TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE blobs (
            blob_id TEXT COLLATE "C" PRIMARY KEY,
            size BIGINT NOT NULL
        )""",
        """CREATE TABLE images (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            org TEXT COLLATE "C" NOT NULL REFERENCES organizations(name),
            hash TEXT COLLATE "C" NOT NULL,
            short_hash TEXT COLLATE "C" NOT NULL,
            binary_hash TEXT COLLATE "C" NOT NULL,
            blob_id TEXT COLLATE "C" NOT NULL REFERENCES blobs(blob_id),
            name TEXT COLLATE "C" NOT NULL,
            format TEXT NOT NULL,
            mimetype TEXT NOT NULL,
            size BIGINT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            opaque BOOLEAN,
            animated BOOLEAN,
            locked BOOLEAN NOT NULL,
            protected BOOLEAN NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            mtime DOUBLE PRECISION NOT NULL,
            deleted_at DOUBLE PRECISION,
            user_metadata TEXT NOT NULL,
            dynamic_metadata TEXT NOT NULL,
            md5 TEXT,
            UNIQUE (org, hash),
            UNIQUE (org, short_hash)
        )""",
        "CREATE INDEX images_by_created ON images (org, deleted_at, created, seq)",
        "CREATE INDEX images_by_binary_hash_created "
        "ON images (org, binary_hash, deleted_at, created, seq)",
        "CREATE INDEX images_by_name_created ON images (org, name, deleted_at, created, seq)",
        "CREATE INDEX images_by_blob ON images (blob_id)",
        "CREATE INDEX images_in_trash ON images (deleted_at) WHERE deleted_at IS NOT NULL",
    ],
    2: [  # (blobs are published before the transaction that records them)
        """CREATE TABLE blob_deletions (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            blob_id TEXT COLLATE "C" NOT NULL,
            done BOOLEAN NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            claim TEXT
        )""",
        "CREATE INDEX blob_deletions_by_blob ON blob_deletions (blob_id)",
    ],
    3: [  # (other nodes' caches learn which paths changed: rokkafs.db.changes)
        *path_triggers("images", "name"),
        "CREATE TRIGGER organizations_changed AFTER INSERT OR UPDATE OR DELETE ON organizations "
        "FOR EACH ROW EXECUTE FUNCTION rokkafs_notify_organization()",
    ],
}


class PostgresIndex(MetadataIndex):
    """The metadata index in a PostgreSQL database, shared by any number of nodes."""

    def __init__(self, url: str, *, max_connections: int = 16) -> None:
        self._database = PgDatabase(
            url,
            "index",
            MIGRATIONS,
            write_lock=_WRITE_LOCK,
            max_connections=max_connections,
            plan_each_time=True,
        )

    @contextmanager
    def _scope(self, begin: str | None) -> Iterator[IndexTransaction]:
        if begin is None:
            with self._database.autocommit() as db:
                yield SqlTransaction(db, POSTGRES)
        else:
            with self._database.transaction(begin) as db:
                yield SqlTransaction(db, POSTGRES)

    def read(self) -> AbstractContextManager[IndexTransaction]:
        return self._scope("BEGIN")

    @contextmanager
    def write_path(self, scope: PathScope) -> Iterator[IndexTransaction]:
        folders = folders_of(scope.name)  # (top down)
        shared = [_WRITE_LOCK, *(lock_key("name", scope.org, f) for f in folders)]
        exclusive = [
            lock_key("name", scope.org, scope.name),
            lock_key("hash", scope.org, scope.hash_prefix),
        ]
        with self._database.locking(shared, exclusive) as db:
            yield _PathTransaction(db, scope)

    def write(self) -> AbstractContextManager[IndexTransaction]:
        return self._scope("BEGIN IMMEDIATE")

    def lookup(self) -> AbstractContextManager[IndexTransaction]:
        return self._scope(None)

    def cleanup_turn(self) -> AbstractContextManager[bool]:
        return self._database.session_lock(_CLEANUP_TURN)

    def close(self) -> None:
        self._database.close()


class _PathTransaction(SqlTransaction):
    """A path write's transaction: it takes the lock of any other hash prefix it decides on
    (a variant's) when it gets there."""

    def __init__(self, db: PgConnection, scope: PathScope) -> None:
        super().__init__(db, POSTGRES)
        self._taken = {(scope.org, scope.hash_prefix)}

    def lock_hash_prefix(self, org: str, prefix: str) -> None:
        if (org, prefix) not in self._taken:
            self._db.execute("SELECT pg_advisory_xact_lock(?)", (lock_key("hash", org, prefix),))
            self._taken.add((org, prefix))
