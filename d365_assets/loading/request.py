"""What a load is asked to do (:class:`LoadRequest`) and what it did (:class:`LoadResult`), anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from d365_assets.loading.errors import LoadError
from d365_assets.loading.guard import LoadGuard
from d365_assets.schema import COMPANY_COLUMN, LOADER_COLUMNS, EntitySchema, RefreshMode

__all__ = ["LoadRequest", "LoadResult", "RowCounts", "check_request"]

_TABLE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class LoadRequest:
    """One exported package's rows, and how to apply them to one table."""

    entity: str
    """The entity's public collection name, for the ledger."""
    table: str
    """The table name (snake case): in the warehouse's schema, or the folder under the lake's URI."""
    schema: EntitySchema
    """The columns of ``batches``, in order."""
    batches: Iterable[pl.DataFrame]
    company: str | None
    """The legal entity of a company-specific entity; None for a shared one."""
    mode: RefreshMode
    """FULL replaces the company's rows (all rows when shared); DELTA upserts on (company, natural key)."""
    natural_key: tuple[str, ...]
    execution_id: str
    """F&O's execution id: the destination applies each one once (its ledger, or the commit log)."""
    package_bytes: int | None = None
    guard: LoadGuard = field(default_factory=LoadGuard)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", RefreshMode(self.mode))  # "full" / "delta" are taken too
        object.__setattr__(self, "natural_key", tuple(self.natural_key))


@dataclass(frozen=True)
class RowCounts:
    """How many rows a load read from the package and inserted, updated and deleted in the table."""

    read: int
    inserted: int
    updated: int
    deleted: int


@dataclass(frozen=True)
class LoadResult:
    """What one load did to one table (for one company, or for a shared entity)."""

    table: str
    """The table: ``d365.customers_v3`` in DuckDB, the table's URI in the lake."""
    company: str | None
    mode: RefreshMode
    execution_id: str
    applied: bool
    """False when the execution was applied already (ledger, commit log) and nothing was changed."""
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    company_rows: int = 0
    """Rows of this company in the table after the load (all rows for shared entities)."""
    table_rows: int = 0
    duplicate_keys: int = 0
    """Natural keys that occur more than once among this company's rows after the load."""
    previous_full_rows: int | None = None
    """Rows of the previous full load of this table and company (None when there was none)."""
    added_columns: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(name, DuckDB type) of every table column after the load (the lake names its types alike)."""
    seconds: float = 0.0
    version: int | None = None
    """The table's version after the load (a Delta table's); None in DuckDB, which keeps none."""


def check_request(request: LoadRequest) -> None:
    """Refuse a request no destination can apply as asked, before the destination is opened."""
    _refuse_loader_columns(request.schema, table=request.table, company_specific=request.company is not None)
    if not _TABLE_PATTERN.match(request.table):
        raise ValueError(f"table name {request.table!r} must be snake_case letters, digits and underscores")


def _refuse_loader_columns(schema: EntitySchema, *, table: str, company_specific: bool) -> None:
    """Refuse entity columns named as the loader's own (the company column, the bookkeeping columns)."""
    reserved = {name.upper() for name in LOADER_COLUMNS} | ({COMPANY_COLUMN} if company_specific else set())
    clashing = [c.name for c in schema if c.name.upper() in reserved]
    if clashing:
        raise LoadError(
            f"{table}: the entity has column(s) {', '.join(clashing)}, which the loader adds itself "
            f"({COMPANY_COLUMN} is the export's legal entity on company-specific tables; "
            f"{' and '.join(LOADER_COLUMNS)} record the load). Remove them from the data project's "
            f"field mapping in F&O (or from the catalog's columns). Nothing was changed."
        )
