"""Image and organization records as rows of the SQL index and back (shared by SQLite and
PostgreSQL): the column list, the statements that write whole records, and readers that
look each result's columns up once."""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rokkafs.model import Organization, SourceImage
from rokkafs.store.index import StoredImage

__all__ = ["COPY", "UPSERT", "record_values", "row_to_organization", "row_to_stored",
           "rows_to_stored"]  # fmt: skip

_IMAGE_COLUMNS = (
    "org, hash, short_hash, binary_hash, blob_id, name, format, mimetype, size, width, height, "
    "opaque, animated, locked, protected, created, mtime, deleted_at, user_metadata, "
    "dynamic_metadata, md5"
)


UPSERT = (
    f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES ({', '.join('?' * 21)}) "
    "ON CONFLICT (org, hash) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _IMAGE_COLUMNS.split(", ") if c not in ("org", "hash")
    )
)


_COPIED = {"org": "?", "short_hash": "?", "created": "?", "locked": "FALSE", "deleted_at": "NULL"}
COPY = (
    f"INSERT INTO images ({_IMAGE_COLUMNS}) SELECT "
    + ", ".join(_COPIED.get(c, c) for c in _IMAGE_COLUMNS.split(", "))
    + " FROM images WHERE org = ? AND hash = ? ON CONFLICT (org, hash) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _IMAGE_COLUMNS.split(", ") if c not in ("org", "hash")
    )
)


def record_values(stored: StoredImage) -> tuple[object, ...]:
    image = stored.image
    return (
        image.organization,
        image.hash,
        image.short_hash,
        image.binary_hash,
        stored.blob_id,
        image.name,
        image.format,
        image.mimetype,
        image.size,
        image.width,
        image.height,
        image.opaque,
        image.animated,
        image.locked,
        image.protected,
        image.created.timestamp(),
        image.mtime,
        image.deleted_date.timestamp() if image.deleted_date else None,
        json.dumps(dict(image.user_metadata), separators=(",", ":")),
        json.dumps(dict(image.dynamic_metadata), separators=(",", ":")),
        image.md5,
    )


def _timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def _optional_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _metadata(text: str) -> dict[str, Any]:
    """A metadata column (most are empty: no JSON parse for those; a fresh dict each time)."""
    return {} if text == "{}" else dict(json.loads(text))


_STORED_COLUMNS = (
    "org", "hash", "short_hash", "binary_hash", "name", "format", "mimetype", "size", "width",
    "height", "created", "mtime", "user_metadata", "dynamic_metadata", "locked", "protected",
    "opaque", "animated", "deleted_at", "md5", "blob_id",
)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _record_reader(columns: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """What reads an image record from a row of these columns, by position (the first of a
    repeated name, as a lookup by name finds it)."""
    first: dict[str, int] = {}
    for position, column in enumerate(columns):
        first.setdefault(column, position)
    return operator.itemgetter(*(first[column] for column in _STORED_COLUMNS))


def rows_to_stored(rows: Sequence[Any]) -> tuple[StoredImage, ...]:
    """Image records from the rows of one result (the columns looked up once: by name, a
    listing of 10,000 rows would search 210,000 times)."""
    if not rows:
        return ()
    read = _record_reader(tuple(rows[0].keys()))
    return tuple(_stored(read(row)) for row in rows)


def row_to_stored(row: Any) -> StoredImage:
    return rows_to_stored([row])[0]


def _stored(values: tuple[Any, ...]) -> StoredImage:
    (org, image_hash, short_hash, binary_hash, name, image_format, mimetype, size, width, height,
     created, mtime, user_metadata, dynamic_metadata, locked, protected, opaque, animated,
     deleted_at, md5, blob_id) = values  # fmt: skip
    image = SourceImage(
        organization=org,
        hash=image_hash,
        short_hash=short_hash,
        binary_hash=binary_hash,
        name=name,
        format=image_format,
        mimetype=mimetype,
        size=size,
        width=width,
        height=height,
        created=_timestamp(created),
        mtime=mtime,
        user_metadata=_metadata(user_metadata),
        dynamic_metadata=_metadata(dynamic_metadata),
        locked=bool(locked),
        protected=bool(protected),
        opaque=_optional_bool(opaque),
        animated=_optional_bool(animated),
        deleted=deleted_at is not None,
        deleted_date=None if deleted_at is None else _timestamp(deleted_at),
        md5=md5,
    )
    return StoredImage(image, blob_id)


def row_to_organization(row: Any) -> Organization:
    return Organization(
        id=row["id"],
        name=row["name"],
        display_name=row["display_name"],
        billing_email=row["billing_email"],
        created=_timestamp(row["created"]),
        master_organization=row["master_organization"],
        options=json.loads(row["options"]),
    )
