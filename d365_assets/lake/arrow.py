"""The lake's column types: an entity schema as Arrow (as Delta stores it), and back as DuckDB type names.

The same types as the DuckDB tables: codes stay text (leading zeros), amounts exact ``decimal(32,6)``,
``NoYes`` boolean, dates ``date``, date-times ``timestamp`` without a zone (Delta's ``timestamp_ntz``,
microseconds). The loader's columns: the company first (company-specific tables), the execution id and
the load time last.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
import pyarrow as pa

from d365_assets.loading import LoadError
from d365_assets.schema import COMPANY_COLUMN, ColumnType, EntitySchema

__all__ = [
    "EXECUTION_COLUMN",
    "LOADED_AT_COLUMN",
    "duckdb_columns",
    "entity_arrow_schema",
    "merged_schema",
    "stamped",
]

EXECUTION_COLUMN, LOADED_AT_COLUMN = "_execution_id", "_loaded_at"
_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.ENUM: pa.string(),
    ColumnType.NOYES: pa.bool_(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.DECIMAL: pa.decimal128(32, 6),
    ColumnType.DATE: pa.date32(),
    ColumnType.DATETIME: pa.timestamp("us"),
}


def entity_arrow_schema(schema: EntitySchema, *, company_specific: bool) -> pa.Schema:
    """The table's Arrow schema for ``schema``: the company (when specific), the columns, the load's."""
    fields = [pa.field(COMPANY_COLUMN, pa.string())] if company_specific else []
    fields += [pa.field(c.name, _ARROW_TYPES[c.type]) for c in schema]
    fields += [pa.field(EXECUTION_COLUMN, pa.string()), pa.field(LOADED_AT_COLUMN, pa.timestamp("us"))]
    return pa.schema(fields)


def stamped(
    batch: pl.DataFrame, target: pa.Schema, *, company: str | None, execution_id: str, loaded_at: object
) -> pa.RecordBatch:
    """``batch`` as a record batch of ``target``: the loader's columns added, a table column the batch
    lacks (F&O stopped sending it) NULL."""
    table = batch.to_arrow()
    columns = []
    for target_field in target:
        name = target_field.name
        if name == COMPANY_COLUMN and company is not None:
            column = pa.array([company] * batch.height, pa.string())
        elif name == EXECUTION_COLUMN:
            column = pa.array([execution_id] * batch.height, pa.string())
        elif name == LOADED_AT_COLUMN:
            column = pa.array([loaded_at] * batch.height, pa.timestamp("us"))
        elif name in table.column_names:
            column = table.column(name).combine_chunks().cast(target_field.type)
        else:
            column = pa.nulls(batch.height, target_field.type)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def merged_schema(table: pa.Schema | None, wanted: pa.Schema, *, what: str) -> pa.Schema:
    """The table's schema plus the columns ``wanted`` adds; a column whose type changed is refused."""
    if table is None:
        return wanted
    by_name = {f.name.upper(): f for f in table}
    for field in wanted:
        current = by_name.get(field.name.upper())
        if current is not None and not _same_type(current.type, field.type):
            raise LoadError(
                f"column {field.name} of {what} is {current.type} but the schema now says {field.type} "
                f"(F&O or the catalog changed its type); reload the table in full into a new lake path "
                f"(or rewrite the column with Spark or delta-rs), then load again. Nothing was changed."
            )
    added = [f for f in wanted if f.name.upper() not in by_name]
    return pa.schema([*table, *added])


def _same_type(left: pa.DataType, right: pa.DataType) -> bool:
    text = (pa.string(), pa.large_string(), pa.string_view())
    return left == right or (left in text and right in text)


def duckdb_columns(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """(name, DuckDB type) of each column, as the DuckDB tables name them (``DECIMAL(32,6)``, ...)."""
    return tuple((f.name, _duckdb_type(f.type)) for f in schema)


def _duckdb_type(kind: pa.DataType) -> str:
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP" if kind.tz is None else "TIMESTAMP WITH TIME ZONE"
    simple: Iterable[tuple[bool, str]] = (
        (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind),
            "VARCHAR",
        ),
        (pa.types.is_boolean(kind), "BOOLEAN"),
        (pa.types.is_int64(kind), "BIGINT"),
        (pa.types.is_int32(kind), "INTEGER"),
        (pa.types.is_date32(kind), "DATE"),
        (pa.types.is_floating(kind), "DOUBLE"),
    )
    return next((name for matches, name in simple if matches), str(kind).upper())
