"""One load request's table: create or widen it, replace or upsert its rows, guard them, describe it.

Everything here runs inside the transaction the caller holds; a guard that refuses raises and the
caller rolls back. A full load writes every row once, straight into the table (no staging copy): the
old keys alone give the counts. A delta (small) is staged first, so its keys are checked before any
row of the table is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from d365_assets.schema import COMPANY_COLUMN
from d365_assets.warehouse.errors import LoadError
from d365_assets.warehouse.guards import check_keys, check_removal
from d365_assets.warehouse.request import LoadRequest, RowCounts
from d365_assets.warehouse.sql import company_scope, key_list, key_match, quietly, quote, scalar
from d365_assets.warehouse.stream import BATCH_VIEW, insert_stream, prefetch

__all__ = ["EntityTable", "TableFacts"]

_STAGE = "_d365_stage"
"""The temporary table a delta is staged in."""
_OLD_KEYS = "_d365_old_keys"
"""The temporary table of the keys a full load replaces."""


@dataclass(frozen=True)
class TableFacts:
    """The table after a load: its rows (the company's and all), repeated keys and columns."""

    company_rows: int
    table_rows: int
    duplicate_keys: int
    columns: tuple[tuple[str, str], ...]


class EntityTable:
    """The table ``request`` is loaded into, ``<schema>.<request.table>``, on an open connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        request: LoadRequest,
        *,
        schema: str,
        before_checks: Callable[[], None] = lambda: None,
    ) -> None:
        self.con = con
        self.request = request
        self._before_checks = before_checks
        """Run once a full load's rows are in, before its guards (the loader's memory for them)."""
        self.qualified = f"{schema}.{request.table}"
        self._scope, self._params = company_scope(request.company)
        self._rows_after: tuple[int, int] | None = None
        """A delta's (company rows, table rows) once applied, derived inside its transaction."""

    @property
    def _rows_in_scope(self) -> str:
        """The company's rows of the table (every row when shared), as a relation and its WHERE clause."""
        return f"{self.qualified} t WHERE {self._scope}"

    @property
    def _description(self) -> str:
        return f"{self.qualified} ({self.request.company or 'shared'})"

    def ensure(self) -> tuple[str, ...]:
        """Create the table, or add columns that F&O started sending; returns the added columns."""
        wanted = [(c.name, c.type.duckdb_type) for c in self.request.schema]
        if self.request.company is not None:
            wanted.insert(0, (COMPANY_COLUMN, "VARCHAR"))
        existing = self.existing_columns()
        if not existing:
            columns = ", ".join(f"{quote(n)} {t}" for n, t in wanted)
            self.con.execute(
                f"CREATE TABLE {self.qualified} ({columns}, _execution_id VARCHAR, _loaded_at TIMESTAMP)"
            )
            return ()
        added = []
        for name, duck_type in wanted:
            current = existing.get(name.upper())
            if current is None:
                self.con.execute(f"ALTER TABLE {self.qualified} ADD COLUMN {quote(name)} {duck_type}")
                added.append(name)
            elif current.replace(" ", "") != duck_type.replace(" ", ""):
                raise LoadError(
                    f"column {name} of {self.qualified} is {current} but the schema now says {duck_type} "
                    f"(F&O or the catalog changed its type); convert it with "
                    f'ALTER TABLE {self.qualified} ALTER COLUMN "{name}" TYPE {duck_type}, or drop the '
                    f"table to reload it in full, then run the load again. Nothing was changed."
                )
        return tuple(added)

    def existing_columns(self) -> dict[str, str]:
        """Upper-cased column name -> DuckDB type of the table's columns (empty when it does not exist)."""
        schema, table = self.qualified.split(".", 1)
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
        return {name.upper(): kind for name, kind in rows}

    def replace(self) -> RowCounts:
        """Full load: keep the old keys, delete the company's rows, insert the batches straight in.

        The new rows' keys are checked, and the share of old rows that would go, before the caller commits.
        """
        natural_key = self.request.natural_key
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_OLD_KEYS} AS SELECT {key_list(natural_key)} "
            f"FROM {self._rows_in_scope}",
            self._params,
        )
        before = scalar(self.con, f"SELECT count(*) FROM {_OLD_KEYS}")
        self.con.execute(f"DELETE FROM {self._rows_in_scope}", self._params)
        rows = insert_stream(
            self.con, self._insert_sql(BATCH_VIEW), self._stamp(), prefetch(self.request.batches),
            self.request.schema,
        )  # fmt: skip
        self._before_checks()
        what = self._description
        check_keys(
            self.con, rows=self._rows_in_scope, params=self._params, natural_key=natural_key, what=what
        )
        kept = scalar(
            self.con,
            f"SELECT count(*) FROM {_OLD_KEYS} s WHERE EXISTS "
            f"(SELECT 1 FROM {self.qualified} t WHERE {self._scope} AND {key_match(natural_key)})",
            self._params,
        )
        check_removal(guard=self.request.guard, before=before, kept=kept, what=what)
        return RowCounts(read=rows, inserted=rows - kept, updated=kept, deleted=before - kept)

    def upsert(self) -> RowCounts:
        """Delta load: stage the (small) package, refuse NULL or repeated keys, replace matching rows.

        The table's rows are counted before the DELETE touches it (DuckDB answers from its row groups'
        metadata) and the counts after are derived: counting after would visit the version info of
        every vector the delta's updates fell in, which grows with the table.
        """
        rows = self._stage()
        natural_key = self.request.natural_key
        what = f"the delta for {self._description}"
        check_keys(self.con, rows=f"{_STAGE} WHERE TRUE", natural_key=natural_key, what=what)
        company_rows, table_rows = self._count_rows()
        staged_key = f"EXISTS (SELECT 1 FROM {_STAGE} s WHERE {key_match(natural_key)})"
        # One pass over the company's rows: DELETE answers how many rows it removed (the updated ones).
        matched = scalar(self.con, f"DELETE FROM {self._rows_in_scope} AND {staged_key}", self._params)
        self.con.execute(self._insert_sql(_STAGE), self._stamp())
        inserted = rows - matched
        self._rows_after = (company_rows + inserted, table_rows + inserted)
        return RowCounts(read=rows, inserted=inserted, updated=matched, deleted=0)

    def drop_scratch(self) -> None:
        """Drop the temporary tables of a load (quietly: a failure here never hides the load's error)."""
        quietly(self.con, f"DROP TABLE IF EXISTS temp.{_STAGE}")
        quietly(self.con, f"DROP TABLE IF EXISTS temp.{_OLD_KEYS}")

    def facts(self, *, count_duplicates: bool) -> TableFacts:
        """The table's rows and columns now; repeated keys only when ``count_duplicates`` (else 0)."""
        if not self.existing_columns():
            return TableFacts(company_rows=0, table_rows=0, duplicate_keys=0, columns=())
        duplicates = 0
        if count_duplicates:
            duplicates = scalar(
                self.con,
                f"SELECT count(*) FROM (SELECT 1 FROM {self._rows_in_scope} "
                f"GROUP BY {key_list(self.request.natural_key)} HAVING count(*) > 1)",
                self._params,
            )
        described = self.con.execute(f"DESCRIBE {self.qualified}").fetchall()
        company_rows, table_rows = self._rows_after or self._count_rows()
        return TableFacts(
            company_rows=company_rows,
            table_rows=table_rows,
            duplicate_keys=duplicates,
            columns=tuple((name, kind) for name, kind, *_ in described),
        )

    def _count_rows(self) -> tuple[int, int]:
        """The company's rows (every row when shared) and the table's rows, as this transaction sees them."""
        company_rows = scalar(self.con, f"SELECT count(*) FROM {self._rows_in_scope}", self._params)
        if self.request.company is None:
            return company_rows, company_rows
        return company_rows, scalar(self.con, f"SELECT count(*) FROM {self.qualified}")

    def _stage(self) -> int:
        """Stage the request's batches in a temporary table of its schema; returns their rows."""
        schema = self.request.schema
        columns = ", ".join(f"{quote(c.name)} {c.type.duckdb_type}" for c in schema)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGE} ({columns})")
        names = ", ".join(quote(c.name) for c in schema)
        sql = f"INSERT INTO {_STAGE} ({names}) SELECT * FROM {BATCH_VIEW}"
        return insert_stream(self.con, sql, [], self.request.batches, schema)

    def _insert_sql(self, source: str) -> str:
        """Append every row of ``source`` to the table, adding the company (when specific) and the load."""
        specific = self.request.company is not None
        target = ([COMPANY_COLUMN] if specific else []) + [c.name for c in self.request.schema]
        target += ["_execution_id", "_loaded_at"]
        columns = (["?"] if specific else []) + ["*", "?", "now()"]
        return (
            f"INSERT INTO {self.qualified} ({', '.join(quote(n) for n in target)}) "
            f"SELECT {', '.join(columns)} FROM {source}"
        )

    def _stamp(self) -> list[object]:
        """The values of :meth:`_insert_sql`'s placeholders: the company (when specific) and the execution."""
        company = self.request.company
        return ([company] if company is not None else []) + [self.request.execution_id]
