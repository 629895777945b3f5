"""Delta tables read back for comparison: never ``to_pyarrow_table`` (it can abort the interpreter at
exit), always the Arrow dataset read on one thread."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable

from d365_assets.catalog import EntityConfig
from d365_assets.lake import LakeConfig
from d365_assets.schema import COMPANY_COLUMN

__all__ = ["lake_rows", "open_table", "read_table"]


def open_table(config: LakeConfig, table: str) -> DeltaTable:
    return DeltaTable(config.table_uri(table), storage_options=config.storage_options())


def read_table(delta: DeltaTable, *, company: str | None = None) -> pa.Table:
    """The table's rows (one company's when given) at the version ``delta`` holds."""
    where = None if company is None else ds.field(COMPANY_COLUMN) == company
    return delta.to_pyarrow_dataset().to_table(filter=where, use_threads=False)


def lake_rows(config: LakeConfig, entity: EntityConfig, company: str | None) -> list[tuple]:
    """The entity's catalog columns for one company, as loaded, sorted by natural key (as
    :func:`tests.support.tables.table_rows` reads DuckDB)."""
    table = read_table(open_table(config, entity.table_name), company=company)
    names = entity.schema.names
    columns = [table.column(name).to_pylist() for name in names]
    rows = list(zip(*columns, strict=True))
    positions = [names.index(k) for k in entity.natural_key]
    return sorted(rows, key=lambda row: tuple(row[p] for p in positions))
