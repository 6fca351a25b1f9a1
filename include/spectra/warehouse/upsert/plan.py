"""What one bulk_upsert call needs before its rows: the validated column plan, the
ON CONFLICT clause and the compiled row function (see the package docstring for why)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Table,
    UniqueConstraint,
)

from spectra.warehouse.models import Base

TableLike = Table | type[Any] | str


class UpsertError(ValueError):
    """The call itself is wrong (unknown column, keys without a unique constraint, ...)."""


def resolve_table(table: TableLike) -> Table:
    """Accept a Table, a mapped class or a table name of the warehouse metadata."""
    if isinstance(table, Table):
        return table
    if isinstance(table, str):
        try:
            return Base.metadata.tables[table]
        except KeyError:
            raise UpsertError(f"unknown warehouse table {table!r}") from None
    mapped = getattr(table, "__table__", None)
    if isinstance(mapped, Table):
        return mapped
    raise UpsertError(f"not a table: {table!r}")


class Plan:
    """Everything about one call that does not depend on the individual rows."""

    def __init__(
        self,
        table: Table,
        row_columns: list[str],
        default_columns: dict[str, Any],
        keys: list[str],
        update_columns: list[str],
        freshness_column: str | None,
        positional: bool = False,
        constant_columns: Mapping[str, Any] | None = None,
    ) -> None:
        self.positional = positional  # rows are tuples in row_columns order, not mappings
        self.table = table
        self.row_columns = row_columns  # one value per row
        # one value for every row (the tenant, the account, the pull's day): given once
        self.constant_columns = dict(constant_columns or {})
        self.default_columns = default_columns
        # Columns whose value is the same in every row, written once per call, not per row.
        self.fixed_columns = {**self.constant_columns, **default_columns}
        self.insert_columns = row_columns + list(self.fixed_columns)
        self.keys = keys
        self.update_columns = update_columns
        self.freshness_column = freshness_column

    @classmethod
    def build(
        cls,
        table: Table,
        first_row: Mapping[str, Any],
        *,
        keys: Sequence[str],
        freshness_column: str | None,
        positional: bool = False,
        constants: Mapping[str, Any] | None = None,
    ) -> Plan:
        row_columns = list(first_row)
        constants = dict(constants or {})
        carried = row_columns + list(constants)
        unknown = [c for c in carried if c not in table.c]
        if unknown:
            raise UpsertError(f"{table.name}: unknown columns {unknown}")
        both = [c for c in row_columns if c in constants]
        if both:
            raise UpsertError(f"{table.name}: columns {both} are given per row and as constants")
        keys = list(keys)
        if not keys:
            raise UpsertError("keys must not be empty")
        missing_keys = [k for k in keys if k not in carried]
        if missing_keys:
            raise UpsertError(f"{table.name}: rows lack key columns {missing_keys}")
        if not _is_unique(table, keys):
            raise UpsertError(
                f"{table.name}: keys {keys} match no primary key or unique constraint, "
                "so ON CONFLICT cannot use them"
            )
        if freshness_column is not None:
            if freshness_column not in carried:
                raise UpsertError(f"{table.name}: rows lack freshness column {freshness_column!r}")
            if freshness_column in keys:
                raise UpsertError("the freshness column cannot be part of the key")
        default_columns: dict[str, Any] = {}
        for column in table.columns:
            if column.name in carried or column.default is None:
                continue
            default = column.default
            if getattr(default, "is_scalar", False):
                default_columns[column.name] = default.arg  # type: ignore[attr-defined]
            elif getattr(default, "is_callable", False):
                # One value per call: a batch is one load, e.g. one created_at for all rows.
                default_columns[column.name] = default.arg(None)  # type: ignore[attr-defined]
        update_columns = [c for c in carried if c not in keys]
        return cls(
            table,
            row_columns,
            default_columns,
            keys,
            update_columns,
            freshness_column,
            positional,
            constants,
        )

    def field(self, name: str) -> Any:
        """How a row is indexed for column ``name``: its position, or its name."""
        return self.row_columns.index(name) if self.positional else name

    # ------------------------------------------------------------------ SQL pieces

    def conflict_clause(self, quote: Callable[[str], str], target: str, *, dialect: str) -> str:
        """``ON CONFLICT (...) DO UPDATE SET ... WHERE <fresher> AND <changed>``."""
        conflict = ", ".join(quote(k) for k in self.keys)
        if not self.update_columns:
            return f" ON CONFLICT ({conflict}) DO NOTHING"
        assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in self.update_columns)
        conditions = []
        if self.freshness_column is not None:
            f = quote(self.freshness_column)
            conditions.append(f"({target}.{f} IS NULL OR excluded.{f} >= {target}.{f})")
        conditions.append(self._changed_condition(quote, target, dialect=dialect))
        return f" ON CONFLICT ({conflict}) DO UPDATE SET {assignments} WHERE " + " AND ".join(
            conditions
        )

    def _changed_condition(self, quote: Callable[[str], str], target: str, *, dialect: str) -> str:
        """True when the stored row differs from the incoming one (NULL-safe)."""
        # SQLite spells IS DISTINCT FROM as IS NOT (row values since 3.15; the long form
        # only arrived in 3.39).
        operator = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"

        def side(prefix: str) -> str:
            parts = []
            for name in self.update_columns:
                expr = f"{prefix}.{quote(name)}"
                # PostgreSQL's json type has no equality operator; compare its text.
                if isinstance(self.table.c[name].type, JSON):
                    expr = f"CAST({expr} AS TEXT)"
                parts.append(expr)
            return "(" + ", ".join(parts) + ")" if len(parts) > 1 else parts[0]

        return f"{side(target)} {operator} {side('excluded')}"

    # ------------------------------------------------------------------ row functions

    def compile_row_function(
        self,
        value_expr: Callable[[str, int], str],
        namespace: dict[str, Any],
        *,
        wrap: str = "",
    ) -> Callable[[Mapping[str, Any]], Any]:
        """Generate ``def _row(r): return <wrap>((expr(col0), expr(col1), ...))`` over the
        row columns (the fixed ones are the dialect's to add once, see ``fixed_values``).

        Column names only enter the source as ``repr()`` string literals, and only after
        they were checked against the table, so nothing untrusted is executed.
        """
        exprs = [
            value_expr(f"r[{self.field(name)!r}]", i) for i, name in enumerate(self.row_columns)
        ]
        source = f"def _row(r):\n    return {wrap}(({', '.join(exprs)},))\n"
        exec(source, namespace)  # generated from validated column names, see docstring
        return namespace["_row"]

    def fixed_values(self, render: Callable[[str, Any], Any]) -> list[Any]:
        """The fixed columns' values (constants, then defaults), each rendered once."""
        return [render(name, value) for name, value in self.fixed_columns.items()]


def _is_unique(table: Table, keys: Sequence[str]) -> bool:
    wanted = set(keys)
    candidates = [{c.name for c in table.primary_key.columns}]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            candidates.append({c.name for c in constraint.columns})
    candidates += [{c.name for c in ix.columns} for ix in table.indexes if ix.unique]
    candidates += [{c.name} for c in table.columns if c.unique]
    return wanted in candidates


def dedupe(plan: Plan, rows: Sequence[Any]) -> Sequence[Any]:
    """Drop rows superseded by a later row with the same key (as sequential upserts would).

    PostgreSQL refuses to touch one row twice in a single statement, so duplicates must go
    before the INSERT ... SELECT. Fast path: one C-level pass to detect that there are none.
    """
    varying = [plan.field(k) for k in plan.keys if k not in plan.constant_columns]
    # constant key columns are equal in every row: the rest tell rows apart
    key_of: Callable[[Any], Any] = itemgetter(*varying) if varying else (lambda _row: ())
    if len(set(map(key_of, rows))) == len(rows):
        return rows
    winners: dict[Any, Any] = {}
    # a constant freshness is equal in every row: the later row wins, as with no freshness
    fresh = (
        plan.field(plan.freshness_column)
        if plan.freshness_column is not None and plan.freshness_column not in plan.constant_columns
        else None
    )
    for row in rows:
        key = key_of(row)
        kept = winners.get(key)
        if (
            kept is None
            or fresh is None
            or kept[fresh] is None
            or (row[fresh] is not None and row[fresh] >= kept[fresh])
        ):
            winners[key] = row
    return list(winners.values())


@contextmanager
def missing_column_is_misuse(plan: Plan) -> Iterator[None]:
    try:
        yield
    except KeyError as error:
        raise UpsertError(
            f"{plan.table.name}: a row lacks column {error}; "
            "every row must carry the columns of the first row"
        ) from error
