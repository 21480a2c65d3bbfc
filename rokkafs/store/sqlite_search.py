"""Translating a :class:`SearchQuery` into SQLite SQL over the ``images`` table."""

from __future__ import annotations

from datetime import datetime

from rokkafs.errors import InvalidInput
from rokkafs.search import Filter, SearchQuery, SortKey, decode_cursor

__all__ = ["SqlQuery", "build_search"]

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


class SqlQuery:
    """The pieces of one search: WHERE clause, ORDER BY clause and the sort expressions."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.params: list[object] = []
        self.sort_exprs: list[tuple[str, bool]] = []

    def add(self, clause: str, *params: object) -> None:
        self.where.append(clause)
        self.params.extend(params)

    @property
    def order_by(self) -> str:
        return ", ".join(f"{expr} {'DESC' if desc else 'ASC'}" for expr, desc in self.sort_exprs)

    @property
    def select_keys(self) -> str:
        return ", ".join(expr for expr, _ in self.sort_exprs)


def _field_expr(field: str) -> tuple[str, list[object]]:
    if field in _COLUMNS:
        return _COLUMNS[field], []
    if field.startswith("user:"):
        return "json_extract(user_metadata, ?)", [f'$."{field[5:]}"']
    _, name, sub = field.split(":", 2)
    return "json_extract(dynamic_metadata, ?)", [f'$."{name}"."{sub}"']


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


def _value_condition(flt: Filter, expr: str) -> tuple[str, list[object]]:
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
        return f"instr(lower({expr}), lower(?)) > 0", [value]
    if flt.prefix and flt.field in _COLUMNS:  # a range, so the (org, name) index is used
        return f"({expr} >= ? AND {expr} < ?)", [value, value + "\U0010ffff"]
    if flt.prefix:
        return f"substr({expr}, 1, ?) = ?", [len(value), value]
    return f"{expr} = ?", [_convert(flt, value)]


def _condition_params(flt: Filter) -> tuple[str, list[object]]:
    """The SQL condition of a filter with its parameters in order of appearance."""
    expr, path_params = _field_expr(flt.field)
    if flt.kind in ("array", "array_text"):
        inner, inner_params = _value_condition(flt, "value")
        return f"EXISTS (SELECT 1 FROM json_each(user_metadata, ?) WHERE {inner})", [
            *path_params,
            *inner_params,
        ]
    cond, values = _value_condition(flt, "{x}")
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


def _sort_expr(key: SortKey) -> str:
    if key.field in _COLUMNS:
        return _COLUMNS[key.field]
    path = f'$."{key.field[5:]}"'.replace("'", "''")
    return f"COALESCE(json_extract(user_metadata, '{path}'), {_NULL_LOW})"


def build_search(org: str, query: SearchQuery, *, trash_cutoff: float) -> SqlQuery:
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
        conditions = [_condition_params(f) for f in query.filters]
        joiner = " OR " if query.operator == "or" else " AND "
        sql.add(
            "(" + joiner.join(c for c, _ in conditions) + ")",
            *[p for _, params in conditions for p in params],
        )
    sql.sort_exprs = [(_sort_expr(k), k.descending) for k in query.sort]
    sql.sort_exprs.append(("seq", query.sort[0].descending if query.sort else False))
    return sql


def cursor_condition(sql: SqlQuery, cursor: str) -> tuple[str, list[object]]:
    """The search-after condition: rows strictly after the cursor's sort key."""
    values = decode_cursor(cursor, len(sql.sort_exprs))
    alternatives: list[str] = []
    params: list[object] = []
    for position, (expr, descending) in enumerate(sql.sort_exprs):
        equal = [f"{e} = ?" for e, _ in sql.sort_exprs[:position]]
        after = f"{expr} {'<' if descending else '>'} ?"
        alternatives.append("(" + " AND ".join([*equal, after]) + ")")
        params.extend(values[:position])
        params.append(values[position])
    return "(" + " OR ".join(alternatives) + ")", params
