"""What the filesystem faces keep besides source images: empty folders and side files.

Side files are the files a desktop or a copying tool writes next to images that are not images
to rokka: AppleDouble ``._*`` files, ``.DS_Store``, rsync's and editors' temporaries,
``Thumbs.db``… and the 0-byte placeholders Finder and Explorer PUT before the real upload. They
are readable, writable and deletable per organization, never visible through the rokka API.

Everything lives next to the store's data: ``faces.sqlite3`` (WAL) and content-addressed files
under ``side/``, shared by a ``rokkafs serve`` and a ``rokkafs mount`` on the same directory.
Thread- and process-safe like LocalStore.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rokkafs.db.changes import path_triggers
from rokkafs.db.retry import retried_on_conflict
from rokkafs.db.sqlite import Database
from rokkafs.errors import RokkaFSError
from rokkafs.staging import Staged
from rokkafs.store.blobs import BlobStorage
from rokkafs.store.blobs.files import FileBlobStorage

__all__ = ["FaceEntry", "FaceState", "SideFile"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (
    org TEXT NOT NULL,
    path TEXT NOT NULL,
    mtime REAL,
    PRIMARY KEY (org, path)
);
CREATE TABLE IF NOT EXISTS side_files (
    org TEXT NOT NULL,
    path TEXT NOT NULL,
    blob_id TEXT,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    created REAL,
    PRIMARY KEY (org, path)
);
"""


@dataclass(frozen=True, slots=True)
class SideFile:
    """A side file (or a 0-byte placeholder, ``blob_id`` None) of an organization."""

    org: str
    path: str
    blob_id: str | None
    size: int
    mtime: float
    created: float = 0.0  # (when it was written; older files: 0)

    @property
    def placeholder(self) -> bool:
        """Whether it is a 0-byte placeholder (no bytes of its own)."""
        return self.blob_id is None and self.size == 0


_PUT_SIDE_FILE = (
    "INSERT INTO side_files (org, path, blob_id, size, mtime, created) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (org, path) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, "
    "mtime = excluded.mtime, created = excluded.created"
)
_SIDE_COLUMNS = "blob_id, size, mtime, COALESCE(created, 0)"


def _prefix_range(prefix: str) -> tuple[str, str]:
    return prefix, prefix + "\U0010ffff"


@dataclass(frozen=True)
class FaceEntry:
    """What the face state knows of one path: the side file there, whether it is a folder
    (:meth:`FaceState.has_folder`), and the folder's recorded modification time."""

    side: SideFile | None = None
    folder: bool = False
    folder_mtime: float | None = None


# the same tables in PostgreSQL, for nodes sharing one database (rokkafs.db.postgres)
PG_MIGRATIONS = {
    1: [
        'CREATE TABLE folders (org TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C" NOT NULL, '
        "mtime DOUBLE PRECISION, PRIMARY KEY (org, path))",
        'CREATE TABLE side_files (org TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C" NOT NULL, '
        "blob_id TEXT, size BIGINT NOT NULL, mtime DOUBLE PRECISION NOT NULL, "
        "PRIMARY KEY (org, path))",
        "CREATE INDEX side_files_by_blob ON side_files (blob_id)",
    ],
    2: ["ALTER TABLE side_files ADD COLUMN created DOUBLE PRECISION"],
    3: [*path_triggers("side_files", "path"), *path_triggers("folders", "path")[-1:]],
}
PG_WRITE_LOCK = 7_531_003


class FaceState:
    """Empty folders and side files of every organization: in the data directory, or (for
    several nodes) in a PostgreSQL database with the side files' bytes in ``blobs``
    (a folder the nodes share)."""

    def __init__(
        self, data_dir: Path, *, database_url: str | None = None, blobs: BlobStorage | None = None
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = blobs or FileBlobStorage(data_dir / "side")
        self._database: Any
        if database_url is not None:
            from rokkafs.db.postgres import PgDatabase

            self._database = PgDatabase(  # (a write publishes or deletes a side file's bytes)
                database_url,
                "faces",
                PG_MIGRATIONS,
                write_lock=PG_WRITE_LOCK,
                max_connections=8,
                idle_limit=False,
            )
            return
        self._database = Database(data_dir / "faces.sqlite3", SCHEMA)
        with self._tx() as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(folders)")}
            if "mtime" not in columns:  # (made before folder times were kept)
                db.execute("ALTER TABLE folders ADD COLUMN mtime REAL")
            columns = {row[1] for row in db.execute("PRAGMA table_info(side_files)")}
            if "created" not in columns:  # (made before placeholders expired)
                db.execute("ALTER TABLE side_files ADD COLUMN created REAL")

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        return list(self._database.query(sql, params))

    def _tx(self) -> AbstractContextManager[Any]:
        transaction: AbstractContextManager[Any] = self._database.transaction()
        return transaction

    # ----------------------------------------------------------------- folders

    @retried_on_conflict
    def add_folder(self, org: str, path: str) -> None:
        """Record an (empty) folder and its parents."""
        parts = path.split("/")
        with self._tx() as db:
            for depth in range(1, len(parts) + 1):
                db.execute(
                    "INSERT INTO folders (org, path) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (org, "/".join(parts[:depth])),
                )

    @retried_on_conflict
    def set_folder_mtime(self, org: str, path: str, mtime: float) -> None:
        """Record a folder's modification time (``touch``, ``rsync -t``), keeping the folder."""
        self.add_folder(org, path)
        with self._tx() as db:
            db.execute(
                "UPDATE folders SET mtime = ? WHERE org = ? AND path = ?", (mtime, org, path)
            )

    def folder_mtime(self, org: str, path: str) -> float | None:
        """The recorded modification time of a folder, if one was set."""
        rows = self._rows("SELECT mtime FROM folders WHERE org = ? AND path = ?", (org, path))
        return rows[0][0] if rows else None

    def has_folder(self, org: str, path: str) -> bool:
        """Whether an explicit folder (or a side file below it) makes ``path`` a folder."""
        low, high = _prefix_range(path + "/")
        rows = self._rows(
            "SELECT EXISTS (SELECT 1 FROM folders WHERE org = ? AND path = ?) OR EXISTS "
            "(SELECT 1 FROM side_files WHERE org = ? AND path >= ? AND path < ?)",
            (org, path, org, low, high),
        )
        return bool(rows[0][0])

    def folders_below(self, org: str, prefix: str) -> dict[str, float | None]:
        """Every explicit folder path under ``prefix`` ('' for the whole organization), with
        its recorded modification time."""
        low, high = _prefix_range(prefix)
        rows = self._rows(
            "SELECT path, mtime FROM folders WHERE org = ? AND path >= ? AND path < ?",
            (org, low, high),
        )
        return {r[0]: r[1] for r in rows}

    @retried_on_conflict
    def remove_folders(self, org: str, path: str) -> None:
        """Forget a folder and every folder below it."""
        low, high = _prefix_range(path + "/")
        with self._tx() as db:
            db.execute(
                "DELETE FROM folders WHERE org = ? AND (path = ? OR (path >= ? AND path < ?))",
                (org, path, low, high),
            )

    @retried_on_conflict
    def move_prefix(self, org: str, old: str, new: str, new_org: str | None = None) -> None:
        """Rename a folder: every folder and side file below ``old`` moves below ``new``
        (replacing what is there). In two steps, through names no path can have, so that a
        moved row never meets another moved row (``a/b`` into ``a`` moves ``a/b/b`` to
        ``a/b``)."""
        target = new_org or org
        low, high = _prefix_range(old + "/")
        parked = f"\x01moving-{uuid.uuid4().hex}/"  # (names hold no control characters)
        with self._changing() as (db, released):
            for table in ("folders", "side_files"):
                rows = db.execute(
                    f"SELECT path FROM {table} WHERE org = ? AND (path = ? OR (path >= ? AND "
                    "path < ?))",
                    (org, old, low, high),
                ).fetchall()
                moving = [row[0] for row in rows]
                for path in moving:
                    db.execute(
                        f"UPDATE {table} SET path = ? WHERE org = ? AND path = ?",
                        (parked + path, org, path),
                    )
                for path in moving:
                    renamed = new + path[len(old) :]
                    replaced = self._get(db, target, renamed) if table == "side_files" else None
                    db.execute(  # (what was at the new path is replaced)
                        f"DELETE FROM {table} WHERE org = ? AND path = ?", (target, renamed)
                    )
                    db.execute(
                        f"UPDATE {table} SET org = ?, path = ? WHERE org = ? AND path = ?",
                        (target, renamed, org, parked + path),
                    )
                    if replaced is not None:
                        released.append(replaced.blob_id)

    # ----------------------------------------------------------------- side files

    def put_file(self, org: str, path: str, staged: Staged | None, mtime: float) -> SideFile:
        """Store a side file (``staged`` None: a 0-byte placeholder); replaces one there."""
        blob_id = None if staged is None or staged.size == 0 else staged.blob_id
        size = 0 if staged is None else staged.size
        if blob_id is not None and staged is not None:
            staged.wait_durable()  # durable before it is published
        with self._changing() as (db, released):
            if staged is not None:
                if blob_id is not None:
                    self.blobs.publish(staged.path, blob_id)
                staged.path.unlink(missing_ok=True)
            old = self._get(db, org, path)
            created = time.time()
            db.execute(_PUT_SIDE_FILE, (org, path, blob_id, size, mtime, created))
            if old is not None:
                released.append(old.blob_id)
        return SideFile(org, path, blob_id, size, mtime, created)

    @staticmethod
    def _get(db: Any, org: str, path: str) -> SideFile | None:
        row = db.execute(
            f"SELECT {_SIDE_COLUMNS} FROM side_files WHERE org = ? AND path = ?", (org, path)
        ).fetchone()
        return None if row is None else SideFile(org, path, *tuple(row))

    def file_or_folder(self, org: str, path: str) -> FaceEntry:
        """What the face state knows of ``path``, in one statement."""
        low, high = _prefix_range(path + "/")
        rows = self._rows(
            "SELECT s.blob_id, s.size, s.mtime, COALESCE(s.created, 0), "
            "EXISTS (SELECT 1 FROM folders WHERE org = ? AND path = ?) OR EXISTS "
            "(SELECT 1 FROM side_files WHERE org = ? AND path >= ? AND path < ?), "
            "(SELECT mtime FROM folders WHERE org = ? AND path = ?) "
            "FROM (SELECT 1) AS one LEFT JOIN side_files s ON s.org = ? AND s.path = ?",
            (org, path, org, low, high, org, path, org, path),
        )
        row = tuple(rows[0])
        side = SideFile(org, path, *row[:4]) if row[1] is not None else None  # (size: NOT NULL)
        return FaceEntry(side, bool(row[4]), row[5])

    def get_file(self, org: str, path: str) -> SideFile | None:
        """The side file at ``path``, if any."""
        rows = self._rows(
            f"SELECT {_SIDE_COLUMNS} FROM side_files WHERE org = ? AND path = ?", (org, path)
        )
        return SideFile(org, path, *tuple(rows[0])) if rows else None

    def files_below(self, org: str, prefix: str) -> list[SideFile]:
        """Every side file under ``prefix`` ('' for the whole organization)."""
        low, high = _prefix_range(prefix)
        rows = self._rows(
            f"SELECT path, {_SIDE_COLUMNS} FROM side_files "
            "WHERE org = ? AND path >= ? AND path < ?",
            (org, low, high),
        )
        return [SideFile(org, r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def open_file(self, side: SideFile) -> BinaryIO:
        """Open a side file for reading."""
        if side.blob_id is None:
            return io.BytesIO()
        return self.blobs.open(side.blob_id)

    @retried_on_conflict
    def delete_file(self, org: str, path: str) -> bool:
        """Delete a side file; returns whether there was one."""
        with self._changing() as (db, released):
            old = self._get(db, org, path)
            if old is None:
                return False
            db.execute("DELETE FROM side_files WHERE org = ? AND path = ?", (org, path))
            released.append(old.blob_id)
            return True

    @retried_on_conflict
    def move_file(self, org: str, path: str, new_org: str, new_path: str) -> None:
        """Rename a side file (replacing one at the target)."""
        with self._changing() as (db, released):
            old = self._get(db, new_org, new_path)
            db.execute("DELETE FROM side_files WHERE org = ? AND path = ?", (new_org, new_path))
            db.execute(
                "UPDATE side_files SET org = ?, path = ? WHERE org = ? AND path = ?",
                (new_org, new_path, org, path),
            )
            if old is not None:
                released.append(old.blob_id)

    @retried_on_conflict
    def copy_file(self, side: SideFile, org: str, path: str, mtime: float) -> SideFile:
        """Copy a side file (its bytes are shared, not duplicated)."""
        with self._changing() as (db, released):
            old = self._get(db, org, path)
            created = time.time()
            db.execute(_PUT_SIDE_FILE, (org, path, side.blob_id, side.size, mtime, created))
            if old is not None and old.blob_id != side.blob_id:
                released.append(old.blob_id)
        return SideFile(org, path, side.blob_id, side.size, mtime, created)

    @retried_on_conflict
    def set_mtime(self, org: str, path: str, mtime: float) -> None:
        """Record a side file's modification time."""
        with self._tx() as db:
            db.execute(
                "UPDATE side_files SET mtime = ? WHERE org = ? AND path = ?", (mtime, org, path)
            )

    @contextmanager
    def _changing(self) -> Iterator[tuple[Any, list[str | None]]]:
        """A write transaction that may release side-file bytes (appended to the list); the
        bytes nothing refers to any more go after it committed, never inside it (a rollback
        would leave rows without their bytes)."""
        released: list[str | None] = []
        with self._tx() as db:
            yield db, released
        unused = {blob_id for blob_id in released if blob_id is not None}
        if not unused:
            return
        try:
            with self._tx() as db:  # (under the write lock: no put takes these bytes meanwhile)
                for blob_id in sorted(unused):
                    used = db.execute(
                        "SELECT 1 FROM side_files WHERE blob_id = ? LIMIT 1", (blob_id,)
                    )
                    if used.fetchone() is None:
                        self.blobs.delete(blob_id)
        except RokkaFSError as exc:  # (the change is done; the bytes stay as garbage)
            log.warning("side-file bytes were not removed: %s", exc)

    def close(self) -> None:
        """Close every connection."""
        self._database.close()
