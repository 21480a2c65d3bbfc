"""WebDAV dead properties and locks, persisted in the data directory's ``dav.sqlite3``.

wsgidav keeps both in a mapping (``_dict``) and ships shelve-backed versions; on a Python
without gdbm, shelve falls back to the pure-Python ``dbm.dumb``, which rewrites its index on
every change and is not safe for two processes. Here the mapping is one SQLite table per kind
(each write its own transaction, WAL like the rest of the data directory); values are pickled
as shelve does (they are wsgidav's own lock dictionaries and property XML bytes, written by
this process into the trusted data directory). Old ``*.shelve`` files are imported once.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import pickle
import shelve
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from wsgidav.dav_error import DAVError
from wsgidav.lock_man.lock_manager import LockManager
from wsgidav.lock_man.lock_storage import LockStorageDict
from wsgidav.prop_man.property_manager import PropertyManager

from rokkafs.db.retry import retried_on_conflict
from rokkafs.db.sqlite import Database
from rokkafs.errors import BackendUnavailable

__all__ = ["DEFAULT_LOCK_SECONDS", "MAX_LOCK_SECONDS", "DavState", "request_started"]

log = logging.getLogger(__name__)

DEFAULT_LOCK_SECONDS = 3600
MAX_LOCK_SECONDS = 86_400
RECHECK_SECONDS = 0.1
_KINDS = ("properties", "locks")
_SCHEMA = "".join(
    f"CREATE TABLE IF NOT EXISTS dav_{kind} (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    for kind in _KINDS
)
# the same in PostgreSQL (rokkafs.db.postgres), with a sequence that every change advances after it
# committed: other nodes compare its value as SQLite's readers compare data_version
PG_MIGRATIONS = {
    1: [
        *(
            f"CREATE TABLE dav_{kind} (key TEXT PRIMARY KEY, value BYTEA NOT NULL)"
            for kind in _KINDS
        ),
        "CREATE SEQUENCE dav_changes",
    ]
}
_URL_KEY = "URL2TOKEN:"  # (wsgidav's lock storage: the tokens of the locks of one URL)
PG_WRITE_LOCK = 7_531_004
PG_LOCKING_MUTEX = 7_531_005  # (taking a WebDAV lock; the writes inside take PG_WRITE_LOCK)


class _SqliteVersion:
    """SQLite's count of commits by other connections (``PRAGMA data_version``)."""

    def __init__(self, path: Path) -> None:
        self._watch = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def current(self) -> int:
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def advance(self) -> None:
        """(SQLite counts commits itself.)"""


class _PgVersion:
    """The ``dav_changes`` sequence: advanced after every committed change, on any node."""

    def __init__(self, database: Any) -> None:
        self._db = database

    def current(self) -> int:
        row = self._db.query("SELECT last_value, is_called FROM dav_changes")[0]
        return int(row[0]) if row[1] else 0

    def advance(self) -> None:
        self._db.query("SELECT nextval('dav_changes')")


_requests = threading.local()


def request_started() -> None:
    """A WebDAV request begins on this thread: it reads whether the lock table changed once,
    however often wsgidav looks at locks while answering it (a PUT looked five times)."""
    _requests.number = getattr(_requests, "number", 0) + 1


def _current_request() -> int | None:
    number: int | None = getattr(_requests, "number", None)
    return number


@contextmanager
def _unavailable_as_dav_error() -> Iterator[None]:
    try:
        yield
    except BackendUnavailable as exc:
        raise DAVError(503, exc.message) from exc


def _unavailable_is_503(method: Any) -> Any:
    """wsgidav turns any exception but a DAVError into 500: an unreachable database is 503."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except BackendUnavailable as exc:
            raise DAVError(503, exc.message) from exc

    return wrapper


class _Table(MutableMapping[str, Any]):
    """One SQLite table seen as the persistent dict wsgidav expects.

    wsgidav looks up every entry of a PROPFIND answer (its locks, its dead properties), and
    nearly all are absent: those are answered from the set of keys held in memory. It is read
    again after this process changes the table, and when another process (or node) has
    committed a change: SQLite's ``PRAGMA data_version``, PostgreSQL's ``dav_changes``
    sequence. Locks (``recheck`` 0) ask once per request (:func:`request_started`), so a lock
    committed on another node refuses every request that starts after it, and afresh inside
    :meth:`DavState.exclusive`; dead properties at most every :data:`RECHECK_SECONDS`.
    """

    def __init__(
        self, database: Any, version: _SqliteVersion | _PgVersion, kind: str, recheck: float
    ) -> None:
        assert kind in _KINDS
        self._db, self._table = database, f"dav_{kind}"
        self._version_of = version
        self._recheck = recheck
        self._watched = threading.Lock()
        self._version, self._checked = -1, 0.0
        self._keys: frozenset[str] = frozenset()
        self._checked_in = threading.local()  # (per thread: the request that last checked)

    def _stale(self, now: float) -> bool:
        if self._version < 0:
            return True
        if self._recheck:
            return now - self._checked >= self._recheck
        request = _current_request()
        return request is None or getattr(self._checked_in, "request", None) != request

    def recheck_now(self) -> None:
        """Ask the database at the next lookup on this thread, even within one request."""
        self._checked_in.request = None

    @_unavailable_is_503
    def keys_now(self) -> frozenset[str]:
        """Every key, as fresh as the rules above make it."""
        with self._watched:
            now = time.monotonic()
            if self._stale(now):
                version = self._version_of.current()
                if version != self._version:
                    rows = self._db.query(f"SELECT key FROM {self._table}")
                    self._keys, self._version = frozenset(r[0] for r in rows), version
                self._checked = now
                self._checked_in.request = _current_request()
            return self._keys

    def _present(self, key: str) -> bool:
        return key in self.keys_now()

    def _changed(self) -> None:
        self._version_of.advance()
        with self._watched:
            self._version = -1

    @_unavailable_is_503
    def __getitem__(self, key: str) -> Any:
        if not self._present(key):
            raise KeyError(key)
        rows = self._db.query(f"SELECT value FROM {self._table} WHERE key = ?", (key,))
        if not rows:
            raise KeyError(key)
        return pickle.loads(rows[0][0])

    @_unavailable_is_503
    @retried_on_conflict
    def __setitem__(self, key: str, value: Any) -> None:
        with self._db.transaction() as db:
            db.execute(
                f"INSERT INTO {self._table} VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                (key, pickle.dumps(value)),
            )
        self._changed()

    @_unavailable_is_503
    @retried_on_conflict
    def __delitem__(self, key: str) -> None:
        with self._db.transaction() as db:
            if db.execute(f"DELETE FROM {self._table} WHERE key = ?", (key,)).rowcount == 0:
                raise KeyError(key)
        self._changed()

    @_unavailable_is_503
    def __iter__(self) -> Iterator[str]:
        return iter([row[0] for row in self._db.query(f"SELECT key FROM {self._table}")])

    @_unavailable_is_503
    def __len__(self) -> int:
        return int(self._db.query(f"SELECT COUNT(*) FROM {self._table}")[0][0])

    @_unavailable_is_503
    @retried_on_conflict
    def clear(self) -> None:
        with self._db.transaction() as db:
            db.execute(f"DELETE FROM {self._table}")
        self._changed()


class DavState:
    """The database behind :class:`SqlitePropertyManager` and :class:`SqliteLockStorage`."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None) -> None:
        version: _SqliteVersion | _PgVersion
        if database_url is not None:
            from rokkafs.db.postgres import PgDatabase

            self._database: Any = PgDatabase(
                database_url, "dav", PG_MIGRATIONS, write_lock=PG_WRITE_LOCK, max_connections=8
            )
            version = _PgVersion(self._database)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            path = data_dir / "dav.sqlite3"
            self._database = Database(path, _SCHEMA)
            with self._database.transaction():  # (the tables exist before anything watches)
                pass
            version = _SqliteVersion(path)
        rechecks = {"properties": RECHECK_SECONDS, "locks": 0.0}
        self._tables = {k: _Table(self._database, version, k, rechecks[k]) for k in _KINDS}
        self._mutex_file = data_dir / "dav.lock"
        self._mutex = threading.Lock()
        if database_url is None:
            for kind, table in self._tables.items():
                self._import_shelve(data_dir / f"dav-{kind}.shelve", table)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """A lock held by one thread of one process of one node at a time (taking a WebDAV
        lock checks for conflicts and writes it under it, so two nodes cannot both grant)."""
        with self._mutex:
            self._tables["locks"].recheck_now()  # (what this request saw may be old by now)
            if isinstance(self._database, Database):
                self._mutex_file.parent.mkdir(parents=True, exist_ok=True)
                with self._mutex_file.open("a") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    yield
                return
            with _unavailable_as_dav_error(), self._database.autocommit() as db:
                db.execute("SELECT pg_advisory_lock(?)", (PG_LOCKING_MUTEX,))
                try:
                    yield
                finally:
                    db.execute("SELECT pg_advisory_unlock(?)", (PG_LOCKING_MUTEX,))

    def concerns(self, ref_url: str, depth: str) -> bool:
        """Whether a PROPFIND of ``ref_url`` (``depth`` "0" or "1") shows a dead property or a
        lock: one recorded there or (Depth 1) on a member, or a lock above (a lock of a
        folder shows on everything inside it)."""

        def shown(url: str) -> bool:
            url = url.rstrip("/")
            return url == here or (depth == "1" and url.rpartition("/")[0] == here)

        here = ref_url.rstrip("/")
        if any(shown(key) for key in self._tables["properties"].keys_now()):
            return True
        return any(shown(url) or here.startswith(url + "/") for url in self._locked_urls())

    def locked_at_or_above(self, ref_url: str) -> bool:
        """Whether a lock is recorded on ``ref_url`` or on a folder above it (writing there
        may need its token: a lock of any depth on a folder guards its members list)."""
        here = ref_url.rstrip("/")
        return any(url == here or here.startswith(url + "/") for url in self._locked_urls())

    def _locked_urls(self) -> Iterator[str]:
        for key in self._tables["locks"].keys_now():
            if key.startswith(_URL_KEY):
                yield key.removeprefix(_URL_KEY).rstrip("/")

    def lock_manager(self) -> LockManager:
        """wsgidav's lock manager, taking locks under :meth:`exclusive`."""
        return _NodeSafeLockManager(self.lock_storage(), self.exclusive)

    def table(self, kind: str) -> _Table:
        return self._tables[kind]

    def property_manager(self) -> PropertyManager:
        return SqlitePropertyManager(self._tables["properties"])

    def lock_storage(self) -> LockStorageDict:
        return SqliteLockStorage(self._tables["locks"])

    def close(self) -> None:
        """Close the database connections."""
        self._database.close()

    @staticmethod
    def _import_shelve(path: Path, table: _Table) -> None:
        """Copy what an older rokkafs kept in a shelve, then set the shelve's files aside."""
        files = [f for f in path.parent.glob(path.name + "*") if not f.name.endswith(".imported")]
        if not files:
            return
        with shelve.open(str(path), flag="r") as old:
            for key in old:
                table[key] = old[key]
        for file in files:
            file.rename(file.with_name(file.name + ".imported"))
        log.info("imported %s into dav.sqlite3", path.name)


class _NodeSafeLockManager(LockManager):
    """wsgidav's lock manager, whose conflict check and lock creation run under a lock that
    holds across processes and nodes (wsgidav's own holds only inside one process)."""

    def __init__(
        self, storage: LockStorageDict, exclusive: Callable[[], AbstractContextManager[None]]
    ) -> None:
        super().__init__(storage)
        self._exclusive = exclusive

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        with self._exclusive():
            return super().acquire(*args, **kwargs)


class SqlitePropertyManager(PropertyManager):
    """wsgidav's property manager over a :class:`_Table`."""

    def __init__(self, table: _Table) -> None:
        super().__init__()
        self._table = table

    def _lazy_open(self) -> None:
        self._dict: _Table | None = self._table
        self._loaded = True

    def _close(self) -> None:
        self._dict, self._loaded = None, False


class SqliteLockStorage(LockStorageDict):
    """wsgidav's lock storage over a :class:`_Table`, with a sane timeout: 1 hour when the
    client names none (wsgidav's default is a week), at most a day."""

    def __init__(self, table: _Table) -> None:
        super().__init__()
        self._table = table

    def open(self) -> None:
        self._dict = self._table

    @staticmethod
    def _sane(timeout: float | None) -> float:
        if timeout is None or timeout == 604800 or timeout < 0:
            return DEFAULT_LOCK_SECONDS
        return min(float(timeout), MAX_LOCK_SECONDS)

    def create(self, path: str, lock: dict[str, Any]) -> Any:
        lock["timeout"] = self._sane(lock.get("timeout"))
        return super().create(path, lock)

    def refresh(self, token: str, *, timeout: float | None) -> Any:
        return super().refresh(token, timeout=self._sane(timeout))
