"""The load ledger (``<schema>._load_ledger``): one row per applied execution, so none applies twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from d365_assets.warehouse.request import LoadRequest, RowCounts

__all__ = ["Ledger"]

_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS {schema}._load_ledger (
    execution_id VARCHAR PRIMARY KEY,
    entity VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    company VARCHAR,
    mode VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_updated BIGINT NOT NULL,
    rows_deleted BIGINT NOT NULL,
    package_bytes BIGINT,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL
)
"""


@dataclass(frozen=True)
class Ledger:
    """The ledger of the entity tables in database schema ``schema``."""

    schema: str

    @property
    def table(self) -> str:
        return f"{self.schema}._load_ledger"

    def create(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the schema and the ledger unless they exist."""
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        con.execute(_LEDGER_DDL.format(schema=self.schema))

    def has(self, con: duckdb.DuckDBPyConnection, execution_id: str) -> bool:
        """True when ``execution_id`` was applied already."""
        found = con.execute(f"SELECT 1 FROM {self.table} WHERE execution_id = ?", [execution_id]).fetchone()
        return found is not None

    def record(
        self,
        con: duckdb.DuckDBPyConnection,
        request: LoadRequest,
        *,
        table: str,
        counts: RowCounts,
        started: datetime,
        finished: datetime,
    ) -> None:
        """Add the load of ``request`` into ``table`` (inside the load's transaction)."""
        con.execute(
            f"INSERT INTO {self.table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                request.execution_id, request.entity, table, request.company, request.mode.value,
                counts.read, counts.inserted, counts.updated, counts.deleted,
                request.package_bytes, started, finished,
            ],
        )  # fmt: skip

    def previous_full_rows(
        self, con: duckdb.DuckDBPyConnection, *, table: str, company: str | None, execution_id: str
    ) -> int | None:
        """Rows read by the latest full load of ``table`` and ``company`` other than ``execution_id``."""
        row = con.execute(
            f"SELECT rows_read FROM {self.table} WHERE table_name = ? "
            "AND company IS NOT DISTINCT FROM ? AND mode = 'full' AND execution_id <> ? "
            "ORDER BY finished_at DESC LIMIT 1",
            [table, company, execution_id],
        ).fetchone()
        return row[0] if row else None
