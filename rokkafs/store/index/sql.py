"""The metadata index in SQL, for SQLite and PostgreSQL alike: every statement of an
:class:`IndexTransaction`, written once with ``?`` placeholders over a DB-API-like
connection (``execute``/``executemany``; rows readable by column name and by position);
the rows' conversions are in ``sql_rows``. The engines differ only in their schemas
(``sqlite``, ``postgres``) and in a few search functions
(:class:`~rokkafs.store.index.sql_search.Dialect`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Protocol

from rokkafs.model import Organization, folders_of
from rokkafs.rokka.search import SearchQuery
from rokkafs.store.index import (
    BlobBeingDeleted,
    ImageState,
    IndexTransaction,
    PathView,
    SearchPage,
    StoredImage,
)
from rokkafs.store.index.sql_rows import (
    COPY,
    UPSERT,
    record_values,
    row_to_organization,
    row_to_stored,
    rows_to_stored,
)
from rokkafs.store.index.sql_search import SQLITE, Dialect, build_search, cursor_condition

__all__ = ["SqlConnection", "SqlTransaction"]


class _Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


class SqlConnection(Protocol):
    """What the transaction needs of a connection (``sqlite3.Connection`` has it)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


_IN_LIST = 500  # (ids per IN (…) list)
_NO_SEQ = 2**62  # (past every sequence number)

# (a deletion of the blob that is under way, or done after the epoch an uploader read)
_GOING = "SELECT 1 FROM blob_deletions WHERE blob_id = ? AND (NOT done OR seq > ?) LIMIT 1"


class SqlTransaction(IndexTransaction):
    """The operations of one transaction on a connection of either engine."""

    def __init__(self, connection: SqlConnection, dialect: Dialect = SQLITE) -> None:
        self._db = connection
        self._dialect = dialect

    def get_organization(self, name: str) -> Organization | None:
        row = self._db.execute("SELECT * FROM organizations WHERE name = ?", (name,)).fetchone()
        return None if row is None else row_to_organization(row)

    def list_organizations(self) -> list[Organization]:
        rows = self._db.execute("SELECT * FROM organizations ORDER BY name").fetchall()
        return [row_to_organization(r) for r in rows]

    def insert_organization(self, organization: Organization) -> None:
        self._db.execute(
            "INSERT INTO organizations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                organization.name,
                organization.id,
                organization.display_name,
                organization.billing_email,
                organization.created.timestamp(),
                organization.master_organization,
                json.dumps(dict(organization.options)),
            ),
        )

    def set_organization_options(self, name: str, options: dict[str, object]) -> None:
        self._db.execute(
            "UPDATE organizations SET options = ? WHERE name = ?", (json.dumps(options), name)
        )

    def get_image(
        self, org: str, ref: str, *, include_deleted: bool, trash_cutoff: float
    ) -> StoredImage | None:
        column = "hash" if len(ref) == 40 else "short_hash"
        row = self._db.execute(
            f"SELECT * FROM images WHERE org = ? AND {column} = ?", (org, ref)
        ).fetchone()
        if row is None:
            return None
        deleted_at = row["deleted_at"]
        if deleted_at is not None and (not include_deleted or deleted_at < trash_cutoff):
            return None
        return row_to_stored(row)

    def image_named(
        self, org: str, name: str, *, deleted: bool, trash_cutoff: float
    ) -> StoredImage | None:
        state = "deleted_at >= ?" if deleted else "deleted_at IS NULL"
        params = (org, name, trash_cutoff) if deleted else (org, name)
        row = self._db.execute(  # (the name index answers it, already in this order)
            f"SELECT * FROM images WHERE org = ? AND name = ? AND {state} "
            "ORDER BY created, seq LIMIT 1",
            params,
        ).fetchone()
        return None if row is None else row_to_stored(row)

    def image_named_or_below(
        self, org: str, name: str, *, deleted: bool, trash_cutoff: float
    ) -> tuple[StoredImage | None, bool]:
        state = "deleted_at >= ?" if deleted else "deleted_at IS NULL"
        cutoff = (trash_cutoff,) if deleted else ()
        rows = self._db.execute(  # ('0' follows '/': the range is every name below the folder)
            f"SELECT *, 0 AS below FROM (SELECT * FROM images WHERE org = ? AND name = ? "
            f"AND {state} ORDER BY created, seq LIMIT 1) AS named UNION ALL "
            f"SELECT *, 1 FROM (SELECT * FROM images WHERE org = ? AND name > ? AND name < ? "
            f"AND {state} LIMIT 1) AS inside",
            (org, name, *cutoff, org, name + "/", name + "0", *cutoff),
        ).fetchall()
        named = [row_to_stored(row) for row in rows if not row["below"]]
        return (named[0] if named else None), any(row["below"] for row in rows)

    def path_view(self, org: str, name: str, hash_prefix: str) -> PathView:
        folders = folders_of(name)
        among = (  # (the shallowest: prefixes sort first)
            "SELECT *, 2 FROM (SELECT * FROM images WHERE org = ? AND name IN "
            f"({', '.join('?' * len(folders))}) AND deleted_at IS NULL ORDER BY name LIMIT 1) "
            "AS folder UNION ALL "
            if folders
            else ""
        )
        rows = self._db.execute(  # ('0' follows '/': the range is every name below the folder)
            "SELECT *, 0 AS part FROM (SELECT * FROM images WHERE org = ? AND name = ? "
            "AND deleted_at IS NULL ORDER BY created, seq LIMIT 1) AS named UNION ALL "
            "SELECT *, 1 FROM (SELECT * FROM images WHERE org = ? AND name > ? AND name < ? "
            f"AND deleted_at IS NULL LIMIT 1) AS inside UNION ALL {among}"
            "SELECT *, 3 FROM images WHERE org = ? AND hash >= ? AND hash < ?",
            (org, name, org, name + "/", name + "0", *((org, *folders) if folders else ()),
             org, hash_prefix, hash_prefix + "g"),
        ).fetchall()  # fmt: skip
        parts: dict[int, list[Any]] = {0: [], 1: [], 2: [], 3: []}
        for row in rows:
            parts[row["part"]].append(row)
        return PathView(
            shown=row_to_stored(parts[0][0]) if parts[0] else None,
            images_inside=bool(parts[1]),
            file_folder=str(parts[2][0]["name"]) if parts[2] else None,
            near=tuple(rows_to_stored(parts[3])),
        )

    def live_name_among(self, org: str, names: Sequence[str]) -> str | None:
        if not names:
            return None
        row = self._db.execute(
            f"SELECT name FROM images WHERE org = ? AND name IN ({', '.join('?' * len(names))}) "
            "AND deleted_at IS NULL ORDER BY name LIMIT 1",  # (the shallowest: prefixes sort first)
            (org, *names),
        ).fetchone()
        return None if row is None else str(row[0])

    def has_live_names_below(self, org: str, folder: str) -> bool:
        row = self._db.execute(  # ('0' follows '/': the range is every name below the folder)
            "SELECT 1 FROM images WHERE org = ? AND name > ? AND name < ? "
            "AND deleted_at IS NULL LIMIT 1",
            (org, folder + "/", folder + "0"),
        ).fetchone()
        return row is not None

    def live_name_clashes(self) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT a.org, a.name FROM images a WHERE a.deleted_at IS NULL AND EXISTS ("
            "SELECT 1 FROM images b WHERE b.org = a.org AND b.name > a.name || '/' "
            "AND b.name < a.name || '0' AND b.deleted_at IS NULL) ORDER BY a.org, a.name"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def image_states(self, org: str, refs: list[str]) -> list[ImageState]:
        if not refs:
            return []
        marks = ", ".join("?" * len(refs))
        columns = "hash, short_hash, deleted_at, locked, created"
        rows = self._db.execute(
            f"SELECT {columns} FROM images WHERE org = ? AND hash IN ({marks}) UNION "
            f"SELECT {columns} FROM images WHERE org = ? AND short_hash IN ({marks})",
            (org, *refs, org, *refs),
        ).fetchall()
        return [ImageState(r[0], r[1], r[2] is not None, bool(r[3]), r[4]) for r in rows]

    def copy_records(
        self, org: str, destination: str, copies: list[tuple[str, str, float]]
    ) -> None:
        self._db.executemany(
            COPY, [(destination, short, created, org, h) for h, short, created in copies]
        )

    def live_hashes(self, org: str, *, after: str, limit: int) -> list[str]:
        rows = self._db.execute(
            "SELECT hash FROM images WHERE org = ? AND hash > ? AND deleted_at IS NULL "
            "ORDER BY hash LIMIT ?",
            (org, after, limit),
        )
        return [r[0] for r in rows]

    def hash_prefix_taken(self, org: str, prefix: str, *, exclude_hash: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM images WHERE org = ? AND hash >= ? AND hash < ? AND hash != ? LIMIT 1",
            (org, prefix, prefix + "g", exclude_hash),
        ).fetchone()
        return row is not None

    def images_with_hash_prefix(self, org: str, prefix: str) -> list[StoredImage]:
        rows = self._db.execute(
            "SELECT * FROM images WHERE org = ? AND hash >= ? AND hash < ?",
            (org, prefix, prefix + "g"),
        ).fetchall()
        return list(rows_to_stored(rows))

    def put_image(self, stored: StoredImage) -> None:
        self._db.execute(UPSERT, record_values(stored))

    def search(self, org: str, query: SearchQuery, *, trash_cutoff: float) -> SearchPage:
        sql = build_search(org, query, trash_cutoff=trash_cutoff, dialect=self._dialect)
        where = " AND ".join(sql.where)
        count = -1
        if query.with_total:
            total = self._db.execute(f"SELECT COUNT(*) FROM images WHERE {where}", sql.params)
            count = int(total.fetchone()[0])
        params = list(sql.params)
        if query.cursor is not None:
            condition, cursor_params = cursor_condition(sql, query.cursor)
            where = f"{where} AND {condition}"
            params.extend(cursor_params)
        rows = []
        if query.limit:
            rows = self._db.execute(
                f"SELECT *, {sql.select_keys} FROM images WHERE {where} ORDER BY {sql.order_by} "
                "LIMIT ? OFFSET ?",
                (*params, query.limit, query.offset or 0),
            ).fetchall()
        key_count = len(sql.sort_exprs)
        last_key = list(tuple(rows[-1])[-key_count:]) if rows else None
        return SearchPage(count, rows_to_stored(rows), last_key)

    def purge_images(self, *, deleted_before: float) -> int:
        cursor = self._db.execute(
            "DELETE FROM images WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
            (deleted_before,),
        )
        return int(cursor.rowcount)

    def set_md5(self, blob_id: str, md5: str) -> None:
        self._db.execute(
            "UPDATE images SET md5 = ? WHERE blob_id = ? AND md5 IS NULL", (md5, blob_id)
        )

    def blob_status(self, blob_id: str) -> tuple[bool, int]:
        row = self._db.execute(
            "SELECT (SELECT 1 FROM blobs WHERE blob_id = ?), "
            "(SELECT COALESCE(MAX(seq), 0) FROM blob_deletions)",
            (blob_id,),
        ).fetchone()
        return row[0] is not None, int(row[1])

    def add_blob(self, blob_id: str, size: int, *, epoch: int | None) -> bool:
        # (one statement for a new blob, the usual case: recorded unless being deleted; epoch
        # None: the bytes are known present, unless being deleted)
        since = _NO_SEQ if epoch is None else epoch
        cursor = self._db.execute(
            "INSERT INTO blobs SELECT CAST(? AS TEXT), CAST(? AS BIGINT) WHERE NOT EXISTS "
            f"({_GOING}) ON CONFLICT (blob_id) DO NOTHING",
            (blob_id, size, blob_id, since),
        )
        if cursor.rowcount:
            return True
        if self._db.execute(_GOING, (blob_id, since)).fetchone() is not None:
            raise BlobBeingDeleted(blob_id)
        return False

    def unreferenced_blobs(self) -> list[tuple[str, int]]:
        rows = self._db.execute(
            "SELECT blob_id, size FROM blobs WHERE NOT EXISTS "
            "(SELECT 1 FROM images WHERE images.blob_id = blobs.blob_id)"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def delete_blob(self, blob_id: str) -> None:
        self._db.execute("DELETE FROM blobs WHERE blob_id = ?", (blob_id,))

    def blob_page(self, *, after: str, limit: int) -> list[tuple[str, int, bool]]:
        rows = self._db.execute(
            "SELECT blob_id, size, EXISTS (SELECT 1 FROM images "
            "WHERE images.blob_id = blobs.blob_id) FROM blobs WHERE blob_id > ? "
            "ORDER BY blob_id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [(r[0], int(r[1]), bool(r[2])) for r in rows]

    def recorded_among(self, blob_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(blob_ids), _IN_LIST):
            chunk = list(blob_ids[start : start + _IN_LIST])
            marks = ", ".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT blob_id FROM blobs WHERE blob_id IN ({marks})", chunk
            ).fetchall()
            found.update(r[0] for r in rows)
        return found

    def unrecorded_references(self) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT blob_id FROM images WHERE NOT EXISTS "
            "(SELECT 1 FROM blobs WHERE blobs.blob_id = images.blob_id)"
        ).fetchall()
        return [r[0] for r in rows]

    def doom_blobs(self, blob_ids: Sequence[str], *, now: float, claim: str) -> list[str]:
        recorded = self.recorded_among(blob_ids)
        doomed = [b for b in blob_ids if b not in recorded]
        self._db.executemany(
            "INSERT INTO blob_deletions (blob_id, done, at, claim) VALUES (?, ?, ?, ?)",
            [(blob_id, False, now, claim) for blob_id in doomed],
        )
        return doomed

    def blobs_being_deleted(self, *, before: float | None = None) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT blob_id, COALESCE(claim, '') FROM blob_deletions WHERE NOT done AND at < ? "
            "ORDER BY blob_id",
            (math.inf if before is None else before,),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def confirm_deleted(self, blob_ids: Sequence[str], *, claim: str, now: float) -> None:
        for blob_id in blob_ids:  # (a new row: its seq is past every epoch read before)
            self._db.execute(
                "DELETE FROM blob_deletions WHERE blob_id = ? AND NOT done "
                "AND COALESCE(claim, '') = ?",
                (blob_id, claim),
            )
            self._db.execute(
                "INSERT INTO blob_deletions (blob_id, done, at, claim) VALUES (?, ?, ?, ?)",
                (blob_id, True, now, claim),
            )

    def forget_deletions(self, *, before: float) -> None:
        self._db.execute("DELETE FROM blob_deletions WHERE done AND at < ?", (before,))
