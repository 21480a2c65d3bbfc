"""Listing and search queries: rokka's query-parameter syntax parsed into a typed query.

rokka's search fields are plain query parameters (``height=1200``, ``name=plan*``,
``size=[30000,40000]``, ``user:int:views={10,}``, ``dynamic:str:version:text=a``), combined
with AND unless ``operator=or``. ``sort`` names fields with an optional direction; without a
sort the order is ``created desc``; a field without a direction sorts ascending. ``offset`` is a
number or a cursor. The cursor is a search-after token: the sort values and row id of the last
item returned, so paging stays stable while items are deleted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from rokkafs.errors import InvalidInput
from rokkafs.rokka.metadata import validate_user_metadata_key

__all__ = [
    "Filter",
    "Range",
    "SearchQuery",
    "SortKey",
    "decode_cursor",
    "encode_cursor",
    "parse_search",
    "query_to_params",
]

MAX_LIMIT = 2000
DEFAULT_LIMIT = 100
PLAIN_FIELDS = {
    "hash": "str",
    "short_hash": "str",
    "binary_hash": "str",
    "mimetype": "str",
    "format": "str",
    "name": "str",
    "name_text": "text",
    "size": "int",
    "width": "int",
    "height": "int",
    "created": "date",
    "deleted_date": "date",
}
_ALIASES = {"binaryhash": "binary_hash", "binaryHash": "binary_hash", "deletedDate": "deleted_date"}
_SORTABLE = ("created", "size", "width", "height", "name", "format", "mimetype", "hash")
_RESERVED = {"limit", "offset", "sort", "deleted", "operator", "facets", "cursor"}
_DYNAMIC_RE = re.compile(r"^dynamic:(?:(?:str|int|double|date|array):)?([a-z_]+):([a-z0-9_]+)$")
_RANGE_RE = re.compile(r"^([\[{])(.*),(.*)([\]}])$")
_SORT_RE = re.compile(r"^([A-Za-z0-9_:]+)(?:\s+(asc|desc))?$")


@dataclass(frozen=True, slots=True)
class Range:
    """A Lucene-style range; ``None`` ends are open."""

    low: str | None
    high: str | None
    low_inclusive: bool = True
    high_inclusive: bool = True


@dataclass(frozen=True, slots=True)
class Filter:
    """One field condition: an exact value, a prefix (``value*``) or a range.

    ``field`` is canonical: a plain field of :data:`PLAIN_FIELDS`, ``user:<stored key>`` (for
    example ``user:int:views`` or ``user:title``) or ``dynamic:<name>:<subfield>``.
    """

    field: str
    value: str | None = None
    prefix: bool = False
    range: Range | None = None

    @property
    def kind(self) -> str:
        """The value type of the field: str, text, int, double, date, latlon, array…"""
        if self.field.startswith("user:"):
            key = self.field[5:]
            return key.split(":", 1)[0] if ":" in key else "str"
        if self.field.startswith("dynamic:"):
            return "any"
        return PLAIN_FIELDS[self.field]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort field and its direction."""

    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A listing or search of one organization's source images."""

    filters: tuple[Filter, ...] = ()
    operator: Literal["and", "or"] = "and"
    sort: tuple[SortKey, ...] = (SortKey("created", descending=True),)
    limit: int = DEFAULT_LIMIT
    offset: int | None = None
    cursor: str | None = None
    deleted: bool = False
    facets: tuple[str, ...] = field(default=())
    with_total: bool = True
    """False: the caller does not need ``total`` (it may come back as -1; saves a count)."""

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 0 and {MAX_LIMIT}")
        if self.offset is not None and self.offset < 0:
            raise InvalidInput("offset must not be negative")
        if self.offset is not None and self.cursor is not None:
            raise InvalidInput("give either a numeric offset or a cursor, not both")

    def with_filter(self, extra: Filter) -> SearchQuery:
        """Return a copy with one more filter."""
        return replace(self, filters=(*self.filters, extra))


def _canonical_field(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name in PLAIN_FIELDS:
        return name
    if name.startswith("user:"):
        return "user:" + validate_user_metadata_key(name[5:])
    match = _DYNAMIC_RE.match(name)
    if match:
        return f"dynamic:{match.group(1)}:{match.group(2)}"
    if name.startswith("static:"):
        raise InvalidInput("rokkafs stores no static metadata: static: fields cannot be searched")
    raise InvalidInput(f"unknown search field {name!r}")


def _parse_filter(name: str, raw: str) -> Filter:
    canonical = _canonical_field(name)
    if canonical == "name":  # (names are stored NFC: an NFD query must find them too)
        raw = unicodedata.normalize("NFC", raw)
    match = _RANGE_RE.match(raw.strip())
    if match:
        low, high = (part.strip().strip("'\"") for part in (match.group(2), match.group(3)))
        rng = Range(
            low if low not in ("", "*") else None,
            high if high not in ("", "*") else None,
            match.group(1) == "[",
            match.group(4) == "]",
        )
        return Filter(canonical, range=rng)
    if raw.endswith("*") and len(raw) > 1:
        return Filter(canonical, value=raw[:-1], prefix=True)
    return Filter(canonical, value=raw)


def _parse_sort(raw: str) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in raw.split(","):
        match = _SORT_RE.match(part.strip())
        if match is None:
            raise InvalidInput(f"invalid sort {part!r}: 'field' or 'field asc|desc'")
        name = _ALIASES.get(match.group(1), match.group(1))
        if name.startswith("user:"):
            name = "user:" + validate_user_metadata_key(name[5:])
        elif name not in _SORTABLE:
            raise InvalidInput(f"cannot sort by {name!r}: one of {', '.join(_SORTABLE)}, user:…")
        keys.append(SortKey(name, descending=match.group(2) == "desc"))
    return tuple(keys)


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, not {raw!r}") from None


def parse_search(params: Mapping[str, str]) -> SearchQuery:
    """Parse rokka's list/search query parameters.

    Raises:
        InvalidInput: unknown fields, malformed ranges or sorts, limits out of range.
    """
    filters = tuple(
        _parse_filter(name, value) for name, value in params.items() if name not in _RESERVED
    )
    offset: int | None = None
    cursor = params.get("cursor") or None
    raw_offset = params.get("offset")
    if raw_offset:
        if raw_offset.isdigit():
            offset = int(raw_offset)
        else:
            cursor = raw_offset
    operator = params.get("operator", "and").lower()
    if operator not in ("and", "or"):
        raise InvalidInput("operator must be 'and' or 'or'")
    sort = _parse_sort(params["sort"]) if params.get("sort") else SearchQuery().sort
    facets = tuple(f for f in params.get("facets", "").split(",") if f)
    return SearchQuery(
        filters=filters,
        operator="or" if operator == "or" else "and",
        sort=sort,
        limit=_parse_int("limit", params["limit"]) if "limit" in params else DEFAULT_LIMIT,
        offset=offset,
        cursor=cursor,
        deleted=params.get("deleted", "").lower() == "true",
        facets=facets,
    )


def _filter_to_param(flt: Filter) -> tuple[str, str]:
    if flt.range is not None:
        rng = flt.range
        low = "[" if rng.low_inclusive else "{"
        high = "]" if rng.high_inclusive else "}"
        return flt.field, f"{low}{rng.low or ''},{rng.high or ''}{high}"
    return flt.field, f"{flt.value}*" if flt.prefix else str(flt.value)


def query_to_params(query: SearchQuery) -> dict[str, str]:
    """Render a query back into rokka's query parameters (the inverse of parse_search)."""
    params = dict(_filter_to_param(f) for f in query.filters)
    params["limit"] = str(query.limit)
    if query.offset is not None:
        params["offset"] = str(query.offset)
    elif query.cursor is not None:
        params["offset"] = query.cursor
    if query.operator == "or":
        params["operator"] = "or"
    if query.sort != SearchQuery().sort:
        params["sort"] = ",".join(
            f"{k.field} {'desc' if k.descending else 'asc'}" for k in query.sort
        )
    if query.deleted:
        params["deleted"] = "true"
    return params


def encode_cursor(values: list[object]) -> str:
    """Encode the sort values of the last returned item as an opaque cursor."""
    raw = json.dumps(values, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, expected_length: int) -> list[object]:
    """Decode a cursor made by :func:`encode_cursor` for a sort of the given length.

    Raises:
        InvalidInput: the cursor is malformed or belongs to another sort order.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidInput("invalid cursor") from None
    if not isinstance(values, list) or len(values) != expected_length:
        raise InvalidInput("invalid cursor: it belongs to another sort order")
    return values
