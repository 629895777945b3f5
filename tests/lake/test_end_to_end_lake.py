"""The whole path into the lake: Dagster job -> DMF over HTTPS -> package -> Delta tables on Azurite
(HTTPS, account key), compared row by row with the emulator's source per company."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from d365_assets.catalog import Catalog
from d365_assets.definitions import build_definitions
from d365_assets.emulator import Emulator
from d365_assets.schema import RefreshMode
from d365_assets.settings import Settings
from tests.support.azurite import ACCOUNT_KEY, Azurite
from tests.support.catalog import CATALOG, catalog_of
from tests.support.environment import embedded_variables
from tests.support.lake_tables import lake_rows, open_table
from tests.support.tables import checksum, source_rows
from tests.test_end_to_end import run_main_job

LINES = CATALOG.entity("SalesOrderLinesV2")
ENTITIES = ("CustomersV3", "SalesOrderLinesV2", "MainAccounts")
"""A full company-specific entity, a delta one, and a shared one: every path, at a third of the time."""


def assert_lake_equals_source(
    settings: Settings, catalog: Catalog, emulator: Emulator, *, modes: set[RefreshMode]
) -> None:
    lake = settings.lake_config()
    for entity in catalog.entities:
        if entity.refresh not in modes:
            continue
        for company in entity.companies if entity.company_specific else [None]:
            loaded, source = lake_rows(lake, entity, company), source_rows(emulator, entity, company)
            assert len(loaded) == len(source), f"{entity.name} {company}"
            assert checksum(loaded) == checksum(source), f"{entity.name} {company}"


def test_full_deltas_and_reconcile_into_delta_tables_on_azurite(
    tmp_path: Path, emulator: Emulator, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = catalog_of(tmp_path / "catalog.yaml", ENTITIES)
    variables = {
        **embedded_variables(emulator, tmp_path, catalog=tmp_path / "catalog.yaml"),
        **azurite.variables(azurite.new_container()),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(variables)
    defs = build_definitions(settings)
    lake = settings.lake_config()
    with dg.instance_for_test() as instance:
        run_main_job(defs, instance)
        assert_lake_equals_source(settings, catalog, emulator, modes={RefreshMode.FULL, RefreshMode.DELTA})

        for _ in range(2):  # two deltas after simulated inserts, updates and deletes
            emulator.advance_activity(1)
            run_main_job(defs, instance)
            assert_lake_equals_source(settings, catalog, emulator, modes={RefreshMode.FULL})
            loaded = set(lake_rows(lake, LINES, "USMF"))
            current = set(source_rows(emulator, LINES, "USMF"))
            assert current <= loaded, "every inserted and updated line arrived with its current values"
            assert loaded - current, "deletes never travel in a DMF delta, so the table still has them"

        run_main_job(defs, instance, tags={"d365/mode": "reconcile"})
        assert_lake_equals_source(settings, catalog, emulator, modes={RefreshMode.FULL, RefreshMode.DELTA})

        records = instance.fetch_materializations(dg.AssetKey(["d365", "sales_order_lines_v2"]), limit=1)
        metadata = records.records[0].asset_materialization.metadata
        assert metadata["d365/mode"].value == "full"
        assert metadata["d365/rows_deleted"].value > 0
        assert metadata["dagster/table_name"].value == "d365.sales_order_lines_v2"
        assert metadata["d365/table_uri"].value == lake.table_uri("sales_order_lines_v2")
        version = metadata["d365/table_version"].value
        history = open_table(lake, "sales_order_lines_v2").history()
        assert version == max(entry["version"] for entry in history), "the version this load committed"
        materialization = records.records[0].asset_materialization
        company = materialization.partition
        assert metadata["dagster/partition_row_count"].value == len(source_rows(emulator, LINES, company))
        schema = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
        assert schema["DATAAREAID"] == "VARCHAR"
        assert schema["_loaded_at"] == "TIMESTAMP"
        assert ACCOUNT_KEY not in repr(metadata)

        maintenance = defs.resolve_job_def("d365_lake_maintenance").execute_in_process(instance=instance)
        assert maintenance.success
        observed = {o.asset_key for o in maintenance.asset_observations_for_node("compact_and_vacuum")}
        assert observed == {dg.AssetKey(["d365", entity.table_name]) for entity in catalog.entities}
        assert_lake_equals_source(settings, catalog, emulator, modes={RefreshMode.FULL, RefreshMode.DELTA})
