"""Moving a data directory's other state into PostgreSQL, next to its index
(``rokkafs migrate-index``): users, keys and memberships, side files and empty folders, WebDAV
locks and dead properties. See ``docs/architecture.md#scaling-out``.

Each component's PostgreSQL tables have the same columns as its SQLite ones; rows are copied
in pages and written with an upsert, so a stopped move can simply run again, and a repeated
one leaves the database equal to the data directory. Side files' bytes stay where they are
(``DATA/side/``, which ``--blobs file:///DATA`` names).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rokkafs.access.registry import AccessRegistry
from rokkafs.db.postgres import PgDatabase
from rokkafs.provider.facestate import FaceState
from rokkafs.webdav.davstate import DavState

__all__ = ["COMPONENTS", "move_state"]

_PAGE = 1000

# file -> (its tables in the order foreign keys need, the component that makes them in PG)
COMPONENTS: dict[str, tuple[tuple[str, ...], Callable[[Path, str], Any]]] = {
    "access.sqlite3": (
        ("users", "api_keys", "memberships"),
        lambda data, url: AccessRegistry(data, database_url=url),
    ),
    "faces.sqlite3": (
        ("folders", "side_files"),
        lambda data, url: FaceState(data, database_url=url),
    ),
    "dav.sqlite3": (
        ("dav_properties", "dav_locks"),
        lambda data, url: DavState(data, database_url=url),
    ),
}


def _primary_key(source: sqlite3.Connection, table: str) -> list[str]:
    info = source.execute(f"PRAGMA table_info({table})").fetchall()
    return [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]


def _copy_table(source: sqlite3.Connection, target: Any, table: str) -> int:
    columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
    key = _primary_key(source, table)
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    upsert = (
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
    )
    copied = 0
    rows = source.execute(f"SELECT {names} FROM {table} ORDER BY {', '.join(key)}")
    while page := rows.fetchmany(_PAGE):
        with target.transaction() as db:
            db.executemany(upsert, page)
        copied += len(page)
    return copied


def move_state(data_dir: Path, url: str) -> dict[str, int]:
    """Copy every row of the data directory's state files into the database at ``url``.

    Returns:
        Rows copied per table.
    """
    copied: dict[str, int] = {}
    for file, (tables, component) in COMPONENTS.items():
        if not (data_dir / file).exists():
            continue
        component(data_dir, url).close()  # (its tables are made, or brought up to date)
        source = sqlite3.connect(f"file:{data_dir / file}?mode=ro", uri=True)
        target = PgDatabase(url, f"move-{file}", {}, write_lock=0, max_connections=2)
        try:
            for table in tables:
                copied[table] = _copy_table(source, target, table)
        finally:
            source.close()
            target.close()
    return copied
