"""The metadata index on PostgreSQL (``--index postgresql://…``), for several rokkafs nodes
sharing one database (``docs/architecture.md#scaling-out``).

The statements are SQLite's (:mod:`rokkafs.store.sql_index`): ``?`` placeholders become
``%s`` once per statement text, and rows read by column name or position as there. Text
columns that are compared by ranges (names, hashes) use the "C" collation, so every engine
orders them by code point alike.

Consistency: a write transaction first takes one transaction-level advisory lock, so writes
run one at a time across every node, exactly as SQLite's ``BEGIN IMMEDIATE`` does on one
machine; the rules written for that (one decision per path write, unique short hashes, copy
batches) hold unchanged. Writes are short (no bytes move inside them), so this serializes
only the metadata step of an upload, not the upload. Reads are consistent snapshots
(``REPEATABLE READ``) and never wait for writes.

The schema is versioned (``schema_version``): migrations run once, under an advisory lock,
when a node opens the database.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from rokkafs.errors import BackendUnavailable
from rokkafs.store.index import IndexTransaction, MetadataIndex
from rokkafs.store.sql_index import SqlTransaction
from rokkafs.store.sql_search import POSTGRES

__all__ = ["PostgresIndex"]

_WRITE_LOCK = 7_531_001  # (advisory lock keys of rokkafs)
_MIGRATION_LOCK = 7_531_000

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
}


class _Row(tuple[Any, ...]):
    """A row readable by position and by column name (as ``sqlite3.Row`` is)."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    description = cursor.description or []
    names: dict[str, int] = {}
    for position, column in enumerate(description):
        names.setdefault(column.name, position)
    row_type: type[_Row] = type("Row", (_Row,), {"_names": names})

    def make(values: Sequence[Any]) -> _Row:
        return row_type(values)

    return make


@functools.cache  # (statement texts repeat: each is translated once)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that takes SQLite's ``?`` placeholders."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._connection.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        with self._connection.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [tuple(p) for p in parameters])
            return cursor


class PostgresIndex(MetadataIndex):
    """The metadata index in a PostgreSQL database, shared by any number of nodes."""

    def __init__(self, url: str, *, max_connections: int = 16) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self._errors: tuple[type[BaseException], ...] = (psycopg.OperationalError,)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"row_factory": _row_factory, "autocommit": True},
            open=False,
            name="rokkafs-index",
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except Exception as exc:  # (psycopg_pool.PoolTimeout and the like)
            raise BackendUnavailable(f"the index database at {_safe(url)} is unreachable") from exc
        self._migrate()

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version in sorted(v for v in MIGRATIONS if v > current):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    @contextmanager
    def _transaction(self, *, read_only: bool = False) -> Iterator[_Connection]:
        try:
            with self._pool.connection() as connection, connection.transaction():
                if read_only:
                    connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _Connection(connection)
        except self._errors as exc:
            raise BackendUnavailable(f"the index database failed: {exc}") from exc

    @contextmanager
    def _scope(self, *, read_only: bool = False, write: bool = False) -> Iterator[IndexTransaction]:
        with self._transaction(read_only=read_only) as db:
            if write:
                db.execute("SELECT pg_advisory_xact_lock(?)", (_WRITE_LOCK,))
            yield SqlTransaction(db, POSTGRES)

    def read(self) -> AbstractContextManager[IndexTransaction]:
        return self._scope(read_only=True)

    def write(self) -> AbstractContextManager[IndexTransaction]:
        return self._scope(write=True)

    def lookup(self) -> AbstractContextManager[IndexTransaction]:
        return self._scope()

    def close(self) -> None:
        self._pool.close()


def _safe(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
