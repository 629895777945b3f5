"""Shared fixtures: an emulator over real HTTPS, and helpers comparing DuckDB with its source data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from d365_assets.catalog import EntityConfig
from d365_assets.emulator import Emulator, EmulatorConfig
from d365_assets.settings import Settings

# Small but non-trivial row counts and a quick execution lifecycle keep the suite fast on 2 cores.
TEST_ROWS = {"GeneralJournalAccountEntries": 1500, "SalesOrderLinesV2": 400, "PurchaseOrderLinesV2": 200}
QUICK_LIFECYCLE = {
    "not_visible_seconds": 0.05,
    "not_run_seconds": 0.05,
    "executing_seconds": 0.05,
    "package_url_delay_seconds": 0.05,
}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A running emulator with its own state folder."""
    config = EmulatorConfig(rows=TEST_ROWS, **QUICK_LIFECYCLE)
    emulator = Emulator(state_dir=tmp_path / "emulator", config=config).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def as_real_environment(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, certificate: bool = False
) -> Settings:
    """Settings, and the D365_* variables the resource's EnvVars read, that address the emulator as a
    real F&O environment (URL, tenant, client id, a secret or the app certificate, its CA)."""
    monkeypatch.setenv("D365_ENVIRONMENT_URL", emulator.environment_url)
    monkeypatch.setenv("D365_TENANT_ID", emulator.tenant_id)
    monkeypatch.setenv("D365_CLIENT_ID", emulator.client_id)
    if certificate:
        monkeypatch.delenv("D365_CLIENT_SECRET", raising=False)
    else:
        monkeypatch.setenv("D365_CLIENT_SECRET", emulator.client_secret)
    return Settings(
        environment_url=emulator.environment_url,
        tenant_id=emulator.tenant_id,
        client_id=emulator.client_id,
        client_secret=None if certificate else emulator.client_secret,
        client_certificate=str(emulator.client_certificate) if certificate else None,
        authority_host=emulator.authority_host,
        ca_bundle=str(emulator.ca_bundle),
        duckdb_path=str(tmp_path / "warehouse.duckdb"),
        emulator_state_dir=str(tmp_path / "no-embedded-emulator"),
        package_dir=str(tmp_path / "packages"),
    )


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
    from decimal import Decimal

    return value.quantize(Decimal("0.000001")) if isinstance(value, Decimal) else value


def _sorted(entity: EntityConfig, rows: list[tuple]) -> list[tuple]:
    positions = [entity.schema.names.index(k) for k in entity.natural_key]
    return sorted(rows, key=lambda row: tuple(row[p] for p in positions))
