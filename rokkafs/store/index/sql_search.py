"""Translating a :class:`SearchQuery` into SQL over the ``images`` table, for SQLite and for
PostgreSQL: the statements are the same but for the JSON functions and text search, which a
:class:`Dialect` supplies. Placeholders are ``?`` (a PostgreSQL connection translates them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from rokkafs.errors import InvalidInput
from rokkafs.rokka.search import Filter, SearchQuery, SortKey, decode_cursor

__all__ = ["POSTGRES", "SQLITE", "Dialect", "SqlQuery", "build_search", "cursor_condition"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the engines in a search."""

    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgres"

    def contains(self, expr: str) -> str:
        """Case-insensitive substring test of ``expr`` against one parameter."""
        if self.postgres:
            return f"strpos(lower({expr}), lower(?)) > 0"
        return f"instr(lower({expr}), lower(?)) > 0"

    def json_value(self, column: str, path: list[str], value: object) -> tuple[str, list[object]]:
        """An expression for the JSON value at ``path`` comparable with ``value`` (a number
        compares as a number, anything else as text), with its parameters."""
        if not self.postgres:
            return f"json_extract({column}, ?)", ["$." + ".".join(f'"{p}"' for p in path)]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (
                f"(CASE WHEN jsonb_typeof({column}::jsonb #> ?) = 'number' "
                f"THEN ({column}::jsonb #>> ?)::double precision END)",
                [path, path],
            )
        return f"({column}::jsonb #>> ?)", [path]

    def array_elements(self, column: str, key: str) -> tuple[str, list[object]]:
        """A row source of the elements (column ``value``) of the array at ``key``."""
        if self.postgres:
            array = (
                f"CASE WHEN jsonb_typeof({column}::jsonb -> ?) = 'array' "
                f"THEN {column}::jsonb -> ? ELSE '[]'::jsonb END"
            )
            return f"jsonb_array_elements_text({array}) AS e(value)", [key, key]
        return f"json_each({column}, ?)", [f'$."{key}"']

    def user_sort(self, key: str) -> tuple[str, str]:
        """The sort expression of a user metadata field (missing values first) and the cast
        a cursor's value needs to compare with it."""
        quoted = key.replace("'", "''")
        if self.postgres:
            return f"COALESCE(user_metadata::jsonb -> '{quoted}', 'null'::jsonb)", "jsonb"
        path = f'$."{quoted}"'
        return f"COALESCE(json_extract(user_metadata, '{path}'), {_NULL_LOW})", ""


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgres")

_COLUMNS = {
    "hash": "hash",
    "short_hash": "short_hash",
    "binary_hash": "binary_hash",
    "mimetype": "mimetype",
    "format": "format",
    "name": "name",
    "name_text": "name",
    "size": "size",
    "width": "width",
    "height": "height",
    "created": "created",
    "deleted_date": "deleted_at",
}
_NULL_LOW = "-1e999"  # SQLite reads this as -infinity: missing values sort first
_NUMERIC = {"size", "width", "height", "created", "deleted_at", "seq"}


def _fits(expr: str, cast: str, value: object) -> bool:
    """Whether a cursor's value can be the sort key of ``expr`` (a forged cursor cannot)."""
    if cast or expr not in _NUMERIC | set(_COLUMNS.values()):  # (JSON: any scalar)
        return value is None or isinstance(value, str | int | float)
    if expr in _NUMERIC:
        return (isinstance(value, int | float) and not isinstance(value, bool)) or value is None
    return isinstance(value, str)


class SqlQuery:
    """The pieces of one search: WHERE clause, ORDER BY clause and the sort expressions."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.params: list[object] = []
        self.sort_exprs: list[tuple[str, bool]] = []
        self.sort_casts: list[str] = []  # per sort expression: how a cursor value is cast

    def add(self, clause: str, *params: object) -> None:
        self.where.append(clause)
        self.params.extend(params)

    @property
    def order_by(self) -> str:
        return ", ".join(f"{expr} {'DESC' if desc else 'ASC'}" for expr, desc in self.sort_exprs)

    @property
    def select_keys(self) -> str:
        return ", ".join(expr for expr, _ in self.sort_exprs)


def _field_expr(dialect: Dialect, field: str, value: object) -> tuple[str, list[object]]:
    if field in _COLUMNS:
        return _COLUMNS[field], []
    if field.startswith("user:"):
        return dialect.json_value("user_metadata", [field[5:]], value)
    _, name, sub = field.split(":", 2)
    return dialect.json_value("dynamic_metadata", [name, sub], value)


def _convert(flt: Filter, raw: str) -> object:
    kind = flt.kind
    try:
        if kind == "int":
            return int(raw)
        if kind == "double":
            return float(raw)
        if kind == "date" and flt.field in _COLUMNS:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidInput(f"invalid value {raw!r} for search field {flt.field}") from None
    if kind == "any":
        for number in (int, float):
            try:
                return number(raw)
            except ValueError:
                continue
    return raw


def _value_condition(dialect: Dialect, flt: Filter, expr: str) -> tuple[str, list[object]]:
    if flt.range is not None:
        parts: list[str] = []
        values: list[object] = []
        if flt.range.low is not None:
            parts.append(f"{expr} {'>=' if flt.range.low_inclusive else '>'} ?")
            values.append(_convert(flt, flt.range.low))
        if flt.range.high is not None:
            parts.append(f"{expr} {'<=' if flt.range.high_inclusive else '<'} ?")
            values.append(_convert(flt, flt.range.high))
        if not parts:
            return f"{expr} IS NOT NULL", []
        return "(" + " AND ".join(parts) + ")", values
    value = flt.value or ""
    if flt.field == "name_text" or flt.kind in ("text", "array_text"):
        return dialect.contains(expr), [value]
    if flt.prefix and flt.field in _COLUMNS:  # a range, so the (org, name) index is used
        return f"({expr} >= ? AND {expr} < ?)", [value, value + "\U0010ffff"]
    if flt.prefix:
        return f"substr({expr}, 1, ?) = ?", [len(value), value]
    return f"{expr} = ?", [_convert(flt, value)]


def _sample(flt: Filter) -> object:
    """A value of the filter, converted (it decides how the field is compared)."""
    raw = flt.value if flt.range is None else (flt.range.low or flt.range.high)
    if raw is None or flt.prefix:  # (a prefix compares text, whatever the field's type)
        return raw
    return _convert(flt, raw)


def _condition_params(dialect: Dialect, flt: Filter) -> tuple[str, list[object]]:
    """The SQL condition of a filter with its parameters in order of appearance."""
    if flt.kind in ("array", "array_text"):
        source, source_params = dialect.array_elements("user_metadata", flt.field[5:])
        inner, inner_params = _value_condition(dialect, flt, "value")
        if dialect.postgres:  # (the elements are text there)
            inner_params = [str(p) for p in inner_params]
        return f"EXISTS (SELECT 1 FROM {source} WHERE {inner})", [
            *source_params,
            *inner_params,
        ]
    expr, path_params = _field_expr(dialect, flt.field, _sample(flt))
    cond, values = _value_condition(dialect, flt, "{x}")
    # every occurrence of the field expression needs its own JSON path parameter
    pieces = cond.split("{x}")
    sql = pieces[0]
    params: list[object] = []
    value_iter = iter(values)
    for piece in pieces[1:]:
        sql += expr + piece
        params.extend(path_params)
        params.extend(next(value_iter) for _ in range(piece.count("?")))
    return sql, params


def _sort_expr(dialect: Dialect, key: SortKey) -> tuple[str, str]:
    if key.field in _COLUMNS:
        return _COLUMNS[key.field], ""
    return dialect.user_sort(key.field[5:])


def build_search(
    org: str, query: SearchQuery, *, trash_cutoff: float, dialect: Dialect = SQLITE
) -> SqlQuery:
    """Build the SQL pieces for a search of ``org``.

    Raises:
        InvalidInput: a value that does not fit its field, or a bad cursor.
    """
    sql = SqlQuery()
    sql.add("org = ?", org)
    if query.deleted:
        sql.add("deleted_at IS NOT NULL AND deleted_at >= ?", trash_cutoff)
    else:
        sql.add("deleted_at IS NULL")
    if query.filters:
        conditions = [_condition_params(dialect, f) for f in query.filters]
        joiner = " OR " if query.operator == "or" else " AND "
        sql.add(
            "(" + joiner.join(c for c, _ in conditions) + ")",
            *[p for _, params in conditions for p in params],
        )
    sorts = [(_sort_expr(dialect, k), k.descending) for k in query.sort]
    sql.sort_exprs = [(expr, descending) for (expr, _), descending in sorts]
    sql.sort_casts = [cast for (_, cast), _ in sorts]
    sql.sort_exprs.append(("seq", query.sort[0].descending if query.sort else False))
    sql.sort_casts.append("")
    return sql


def cursor_condition(sql: SqlQuery, cursor: str) -> tuple[str, list[object]]:
    """The search-after condition: rows strictly after the cursor's sort key."""
    values = decode_cursor(cursor, len(sql.sort_exprs))
    for (expr, _), cast, value in zip(sql.sort_exprs, sql.sort_casts, values, strict=True):
        if not _fits(expr, cast, value):
            raise InvalidInput("invalid cursor")
    casts = [f"::{cast}" if cast else "" for cast in sql.sort_casts]
    values = [json.dumps(v) if cast else v for v, cast in zip(values, sql.sort_casts, strict=True)]
    alternatives: list[str] = []
    params: list[object] = []
    for position, (expr, descending) in enumerate(sql.sort_exprs):
        equal = [f"{e} = ?{casts[i]}" for i, (e, _) in enumerate(sql.sort_exprs[:position])]
        after = f"{expr} {'<' if descending else '>'} ?{casts[position]}"
        alternatives.append("(" + " AND ".join([*equal, after]) + ")")
        params.extend(values[:position])
        params.append(values[position])
    return "(" + " OR ".join(alternatives) + ")", params
