"""DuckDB tables compared with the emulator's source data, row for row."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import duckdb

from d365_assets.catalog import EntityConfig
from d365_assets.emulator import Emulator

__all__ = ["checksum", "source_rows", "table_rows"]

_SIX_PLACES = Decimal("0.000001")


def table_rows(database: str | Path, entity: EntityConfig, company: str | None) -> list[tuple]:
    """The entity's catalog columns for one company, as loaded, sorted by natural key."""
    columns = ", ".join(f'"{c.name}"' for c in entity.schema)
    where, params = ("WHERE DATAAREAID = ?", [company]) if company else ("", [])
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(f"SELECT {columns} FROM d365.{entity.table_name} {where}", params).fetchall()
    return _sorted(entity, rows)


def source_rows(emulator: Emulator, entity: EntityConfig, company: str | None) -> list[tuple]:
    """What the emulator's F&O holds now for the entity and company, sorted by natural key."""
    rows = emulator.source_rows(entity.name, company)
    return _sorted(entity, [tuple(row[c.name] for c in entity.schema) for row in rows])


def checksum(rows: list[tuple]) -> str:
    """A checksum of a sorted row set (values normalised so Decimal('1.5') == Decimal('1.500000'))."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(_normal(v) for v in row)).encode())
    return digest.hexdigest()


def _normal(value: object) -> object:
    return value.quantize(_SIX_PLACES) if isinstance(value, Decimal) else value


def _sorted(entity: EntityConfig, rows: list[tuple]) -> list[tuple]:
    positions = [entity.schema.names.index(k) for k in entity.natural_key]
    return sorted(rows, key=lambda row: tuple(row[p] for p in positions))
