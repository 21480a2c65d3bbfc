"""PostgreSQL plumbing shared by everything rokkafs keeps in a database when several nodes
share one (``--index postgresql://…``; see ``docs/architecture.md#scaling-out``).

:class:`PgDatabase` offers what :class:`rokkafs.db.sqlite.Database` offers, so the same
statements serve both engines: ``?`` placeholders (translated once per statement text), rows
readable by column name and by position, :meth:`transaction` (a write transaction that first
takes the component's advisory lock, so writes of a component run one at a time across every
node, as ``BEGIN IMMEDIATE`` makes them on one machine; ``"BEGIN"`` gives a snapshot read),
:meth:`query` and :meth:`autocommit`. Each component (index, registry, face state, DAV state)
brings its own versioned migrations, run once under an advisory lock.

A database that cannot be reached raises :class:`~rokkafs.errors.BackendUnavailable` (503,
EIO); the pool reconnects by itself when it is back.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

from rokkafs.errors import BackendUnavailable, InvalidInput, TransactionConflict

__all__ = [
    "WRITE_IDLE_SECONDS",
    "PgConnection",
    "PgDatabase",
    "forget_backends",
    "lock_key",
    "made_here",
    "safe_url",
]

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 7_531_000
_POOL_WAIT_SECONDS = 5.0
# (an index, registry or WebDAV state write's statements follow each other within
# milliseconds: nothing slow happens inside one, see docs/architecture.md)
WRITE_IDLE_SECONDS = 15.0


@functools.cache  # (statement texts repeat: each is translated once)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Row(tuple[Any, ...]):
    """A row readable by position and by column name (as ``sqlite3.Row`` is)."""

    _names: dict[str, int]
    _columns: tuple[str, ...]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names in order (as ``sqlite3.Row.keys``)."""
        return list(self._columns)


@functools.lru_cache(maxsize=512)  # (a statement's columns repeat: one row type each)
def _row_type(columns: tuple[str, ...]) -> type[_Row]:
    names: dict[str, int] = {}
    for position, name in enumerate(columns):
        names.setdefault(name, position)
    return type("Row", (_Row,), {"_names": names, "_columns": columns})


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    result = cursor.pgresult  # (its field names: cheaper than ``description``'s Column objects)
    if result is None or not result.nfields:
        return _Row
    return _row_type_of(tuple(result.fname(i) for i in range(result.nfields)))


@functools.lru_cache(maxsize=512)
def _row_type_of(raw_names: tuple[bytes, ...]) -> type[_Row]:
    return _row_type(tuple(name.decode() for name in raw_names))


_IDLE_CHECK_SECONDS = 2.0
_last_used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _check_if_idle(connection: Any) -> None:
    """The pool's check before lending a connection: one that worked in the last two
    seconds is lent at once; an older one must answer first (after a database restart the
    pool then replaces it instead of failing a request)."""
    if time.monotonic() - _last_used.get(connection, 0.0) > _IDLE_CHECK_SECONDS:
        connection.execute("")
        _last_used[connection] = time.monotonic()
    _backends[connection.info.backend_pid] = connection


# (a server process id -> this process's pool connection it serves; filled whenever the pool
# makes or lends a connection, emptied by forget_backends)
_backends: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def made_here(backend_pid: int) -> bool:
    """Whether the server process ``backend_pid`` serves an open pool connection of this
    process (a notification it sent announces a change this process made)."""
    connection = _backends.get(backend_pid)
    return connection is not None and not connection.closed


def forget_backends() -> None:
    """Forget which server processes serve this process (after the database restarted, a
    new server process may have the id of a dead one; connections in use are remembered again
    when next lent). A pooler between rokkafs and the database (pgbouncer) hides the server
    process ids: then nothing counts as made here, and nothing is skipped."""
    _backends.clear()


def _configure(plan_each_time: bool, connection: Any) -> None:
    """A new pool connection: remembered by its server process id, and see
    :func:`_plan_each_time`."""
    _backends[connection.info.backend_pid] = connection
    if plan_each_time:
        _plan_each_time(connection)


def _plan_each_time(connection: Any) -> None:
    """A new connection plans each statement with its values (prepared statements skip only
    the parsing): a plan cached once for all values is made while a table is small and kept
    until the next ANALYZE, and one made when an organization had a few images scanned all
    of its images for every lookup by name once it had thousands. (For the index: its images
    table has eight indexes to choose from; the other components' lookups have one each.)"""
    connection.execute("SET plan_cache_mode = force_custom_plan")


class PgConnection:
    """A psycopg connection that takes SQLite's ``?`` placeholders."""

    def __init__(self, connection: Any) -> None:
        self.raw = connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self.raw.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        with self.raw.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [tuple(p) for p in parameters])
            return cursor


def _locked(
    connection: Any,
    shared: Sequence[int],
    exclusive: Sequence[int],
    errors: tuple[type[BaseException], ...],
    idle_seconds: float | None,
) -> Iterator[PgConnection]:
    """A READ COMMITTED transaction holding advisory locks (``shared`` ones first, then the
    ``exclusive`` ones, each list in its order), begun in one round trip (the statements in
    one text: a write pays for one wait on the database, not several); committed at the
    end, rolled back on any exception.

    The locks make other nodes' writes wait for this one, so with ``idle_seconds`` the
    database ends the transaction (and the session) if this node leaves it waiting for its
    next statement that long: a node frozen or cut off while writing stops the others' writes
    for that long, not until it comes back."""
    statements = ["BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE"]
    if idle_seconds is not None:
        milliseconds = round(idle_seconds * 1000)
        statements.append(f"SET LOCAL idle_in_transaction_session_timeout = {milliseconds:d}")
    statements += [f"SELECT pg_advisory_xact_lock_shared({key:d})" for key in shared]
    statements += [f"SELECT pg_advisory_xact_lock({key:d})" for key in exclusive]
    connection.execute("; ".join(statements).encode())
    try:
        yield PgConnection(connection)
    except BaseException:
        with suppress(*errors):  # (a broken connection: the pool discards it)
            connection.rollback()
        raise
    connection.commit()


def lock_key(*parts: str) -> int:
    """An advisory lock's key for a thing named by ``parts`` (a 64-bit hash: two things
    that share a key only wait for each other needlessly)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def safe_url(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    url = re.sub(r"(password=)[^&\s]*", r"\1…", url)
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"


class PgDatabase:
    """One component's view of a PostgreSQL database: a connection pool, its migrations,
    its write lock."""

    def __init__(
        self,
        url: str,
        component: str,
        migrations: Mapping[int, Sequence[str]],
        *,
        write_lock: int,
        max_connections: int = 16,
        idle_limit: bool = True,
        plan_each_time: bool = False,
    ) -> None:
        """``idle_limit``: the database ends a write transaction that waits for this node's
        next statement for ``WRITE_IDLE_SECONDS`` (False for components whose writes move
        bytes inside them). ``plan_each_time``: plan every statement with its values (see
        :func:`_plan_each_time`)."""
        import psycopg
        from psycopg_pool import ConnectionPool

        self._errors: tuple[type[BaseException], ...] = (
            psycopg.OperationalError,
            psycopg.errors.IdleInTransactionSessionTimeout,  # (WRITE_IDLE_SECONDS ran out)
        )
        self._snapshot = psycopg.IsolationLevel.REPEATABLE_READ
        # (writes read what committed before their advisory lock was granted, whatever the
        # server's default_transaction_isolation)
        self._committed = psycopg.IsolationLevel.READ_COMMITTED
        self._bad_values: tuple[type[BaseException], ...] = (psycopg.DataError,)
        self._write_lock = write_lock
        self._idle_limit = idle_limit
        self._url = safe_url(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"row_factory": _row_factory, "autocommit": True},
            timeout=_POOL_WAIT_SECONDS,
            check=_check_if_idle,  # (after a restart: no dead connection)
            configure=functools.partial(_configure, plan_each_time),
            open=False,
            name=f"rokkafs-{component}",
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except Exception as exc:  # (psycopg_pool.PoolTimeout)
            self._pool.close()
            raise BackendUnavailable(f"the database at {self._url} is unreachable") from exc
        self._migrate(component, migrations)

    def _migrate(self, component: str, migrations: Mapping[int, Sequence[str]]) -> None:
        with self._connection(transaction=True) as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS rokkafs_schema "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = db.execute(
                "SELECT version FROM rokkafs_schema WHERE component = ?", (component,)
            ).fetchone()
            current = row[0] if row else 0
            for version in sorted(v for v in migrations if v > current):
                for statement in migrations[version]:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO rokkafs_schema VALUES (?, ?) ON CONFLICT (component) "
                    "DO UPDATE SET version = excluded.version",
                    (component, version),
                )

    @contextmanager
    def _connection(
        self,
        *,
        transaction: bool,
        read_only: bool = False,
        locks: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> Iterator[PgConnection]:
        try:
            with self._pool.connection() as connection:
                try:
                    if locks is not None:
                        idle = WRITE_IDLE_SECONDS if self._idle_limit else None
                        yield from _locked(connection, *locks, self._errors, idle)
                        return
                    if not transaction:
                        yield PgConnection(connection)
                        return
                    # (sent with BEGIN, not as statements of their own)
                    connection.isolation_level = self._snapshot if read_only else self._committed
                    connection.read_only = read_only
                    with connection.transaction():
                        yield PgConnection(connection)
                finally:
                    _last_used[connection] = time.monotonic()
        except self._bad_values as exc:  # (a value the column's type refuses: a forged cursor)
            raise InvalidInput(f"a value does not fit: {str(exc).splitlines()[0]}") from exc
        except self._errors as exc:
            if (getattr(exc, "sqlstate", None) or "").startswith("40"):
                # (a serialization failure, a deadlock: the transaction was rolled back whole)
                log.info("the database refused a transaction: %s", str(exc).splitlines()[0])
                raise TransactionConflict("a concurrent change interfered; try again") from exc
            log.warning("the database at %s failed: %s", self._url, exc)
            raise BackendUnavailable("the database is unavailable, try again later") from exc
        except Exception as exc:
            if type(exc).__name__ == "PoolTimeout":
                log.warning("the database at %s is unreachable", self._url)
                raise BackendUnavailable("the database is unavailable, try again later") from exc
            raise

    @contextmanager
    def transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[PgConnection]:
        """A write transaction (under the component's lock), or with ``"BEGIN"`` a snapshot
        read."""
        reading = begin.strip().upper() == "BEGIN"
        locks = None if reading else ((), (self._write_lock,))
        with self._connection(transaction=True, read_only=reading, locks=locks) as db:
            yield db

    def locking(
        self, shared: Sequence[int], exclusive: Sequence[int]
    ) -> AbstractContextManager[PgConnection]:
        """A write transaction under the given advisory locks instead of the component's
        (``shared`` taken first, then ``exclusive``, each in its order: callers that keep
        one order never wait for each other in a circle)."""
        return self._connection(transaction=True, locks=(shared, exclusive))

    def reading(self) -> AbstractContextManager[PgConnection]:
        """A snapshot read."""
        return self.transaction("BEGIN")

    @contextmanager
    def autocommit(self) -> Iterator[PgConnection]:
        """Statements that each commit on their own."""
        with self._connection(transaction=False) as db:
            yield db

    @contextmanager
    def session_lock(self, key: int) -> Iterator[bool]:
        """Try to take an advisory lock for as long as the block runs (on one connection, so
        no transaction is held open meanwhile): True if taken, False if another holds it."""
        with self.autocommit() as db:
            taken = bool(db.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0])
            try:
                yield taken
            finally:
                if taken:
                    db.execute("SELECT pg_advisory_unlock(?)", (key,))

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """The rows of one read statement."""
        with self.autocommit() as db:
            return list(db.execute(sql, params).fetchall())

    def close(self) -> None:
        self._pool.close()
