"""The Delta destination's Dagster surface: the maintenance job and schedule exist only with it, and
start running or stopped by the same rule as the refresh schedules."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from d365_assets.definitions import build_definitions
from d365_assets.defs import D365CatalogComponent
from d365_assets.emulator import Emulator
from d365_assets.settings import Settings
from tests.support.catalog import catalog_entity, catalog_of
from tests.support.lake_tables import lake_rows
from tests.support.tables import source_rows

MAINTENANCE = "d365_lake_maintenance"


def definitions(tmp_path: Path, **variables: str) -> dg.Definitions:
    base = {"D365_EMULATOR_STATE_DIR": str(tmp_path / "emulator"), "D365_PACKAGE_DIR": str(tmp_path / "p")}
    return build_definitions(Settings.from_env({**base, **variables}))


@pytest.mark.parametrize(
    ("schedules", "status"),
    [("running", dg.DefaultScheduleStatus.RUNNING), ("stopped", dg.DefaultScheduleStatus.STOPPED)],
)
def test_the_lake_brings_its_maintenance_schedule(
    tmp_path: Path, schedules: str, status: dg.DefaultScheduleStatus
) -> None:
    defs = definitions(
        tmp_path, D365_DESTINATION="delta", D365_LAKE_URI=str(tmp_path / "lake"), D365_SCHEDULES=schedules
    )
    assert defs.resolve_job_def(MAINTENANCE).name == MAINTENANCE
    schedule = defs.resolve_schedule_def(f"{MAINTENANCE}_schedule")
    assert schedule.default_status == status
    assert schedule.cron_schedule == "0 3 * * 0"


def test_duckdb_has_no_maintenance_job(tmp_path: Path) -> None:
    defs = definitions(tmp_path)
    assert MAINTENANCE not in {job.name for job in defs.resolve_all_job_defs()}


def test_the_summary_prints_the_lake_per_table_and_company(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from d365_assets.cli import print_summary
    from d365_assets.lake import DeltaLake
    from tests.support.lake_loads import accounts, frame, request

    settings = Settings.from_env({"D365_DESTINATION": "delta", "D365_LAKE_URI": str(tmp_path / "lake")})
    lake = DeltaLake(settings.lake_config())
    lake.load(request([frame(accounts(7))], execution_id="u", table="vendors_v2"))
    lake.load(request([frame(accounts(5))], execution_id="d", table="vendors_v2", company="DEMF"))
    catalog = catalog_of(tmp_path / "catalog.yaml", ["VendorsV2", "CustomersV3"])
    print_summary(settings, catalog)
    lines = capsys.readouterr().out.splitlines()
    assert f"Delta lake: {tmp_path / 'lake'}" in lines
    assert [line.split() for line in lines if "vendors_v2" in line] == [
        ["d365.vendors_v2", "DEMF", "5"],
        ["d365.vendors_v2", "USMF", "7"],
    ]
    assert ["d365.customers_v3", "-", "not", "loaded"] in [line.split() for line in lines]


def test_a_component_instance_loads_into_the_lake(tmp_path: Path, emulator: Emulator) -> None:
    """``warehouse: {destination: delta, lake_uri: ...}`` in defs.yaml: the asset lands in a Delta table."""
    lake_uri = str(tmp_path / "lake")
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(D365CatalogComponent, defs_path="erp")
        catalog_of(path / "catalog.yaml", ["VendorsV2"])
        attributes = {
            "catalog": "catalog.yaml",
            "connection": {"emulator_state_dir": str(emulator.state_dir)},
            "warehouse": {
                "package_dir": str(tmp_path / "packages"),
                "destination": "delta",
                "lake_uri": lake_uri,
            },
            "schedules": "stopped",
        }
        document = {"type": "d365_assets.defs.D365CatalogComponent", "attributes": attributes}
        (path / "defs.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            assert defs.resolve_schedule_def(f"{MAINTENANCE}_schedule").default_status.value == "STOPPED"
            vendors = dg.AssetKey(["d365", "vendors_v2"])
            with dg.instance_for_test() as instance:
                result = dg.materialize(
                    [defs.get_assets_def(vendors)],
                    resources=defs.resources,
                    instance=instance,
                    partition_key="USMF",
                )
    assert result.success
    metadata = result.asset_materializations_for_node("d365_vendors_v2")[0].metadata
    assert metadata["d365/table_uri"].value == f"{lake_uri}/vendors_v2"
    entity = catalog_entity("VendorsV2")
    config = Settings.from_env({"D365_DESTINATION": "delta", "D365_LAKE_URI": lake_uri}).lake_config()
    assert lake_rows(config, entity, "USMF") == source_rows(emulator, entity, "USMF")


def test_both_destinations_keep_the_contract(tmp_path: Path) -> None:
    from d365_assets.lake import DeltaLake, LakeConfig
    from d365_assets.loading import Destination
    from d365_assets.warehouse import Warehouse

    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    lake = DeltaLake(LakeConfig(str(tmp_path / "lake")))
    assert isinstance(warehouse, Destination)
    assert isinstance(lake, Destination)
    assert (warehouse.table_name("vendors_v2"), warehouse.table_uri("vendors_v2")) == (
        "warehouse.d365.vendors_v2",
        None,
    )
    assert (lake.table_name("vendors_v2"), lake.table_uri("vendors_v2")) == (
        "d365.vendors_v2",
        f"{tmp_path / 'lake'}/vendors_v2",
    )
