"""The code location loads: one asset per entity with the right keys, partitions, groups, kinds and checks."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from d365_assets.definitions import build_definitions
from d365_assets.defs import D365MetadataSet
from d365_assets.settings import Settings
from tests.support.catalog import (
    CATALOG,
    catalog_with,
    document_entity,
    shipped_document,
    shipped_entry,
    write_document,
)

ROOT = Path(__file__).resolve().parents[1]
TICK = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
REAL = "https://contoso.operations.dynamics.com"


def test_definitions_build_one_asset_per_entity(tmp_path: Path) -> None:
    defs = build_definitions(Settings(duckdb_path=str(tmp_path / "w.duckdb")))
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == {
        f"d365/{e.table_name}" for e in CATALOG.entities
    }
    customers = graph.get(dg.AssetKey(["d365", "customers_v3"]))
    assert customers.partitions_def.get_partition_keys() == ["USMF", "DEMF"]
    assert customers.group_name == "accounts_receivable"
    assert set(customers.kinds) == {"d365", "microsoft", "duckdb", "polars"}, "microsoft: a known icon"
    assert customers.code_version
    assert graph.get(dg.AssetKey(["d365", "main_accounts"])).partitions_def is None
    check_names = {key.name for key in graph.asset_check_keys if key.asset_key == customers.key}
    assert check_names == {
        "package_rows_loaded",
        "has_rows",
        "natural_key_unique",
        "row_count_stable",
        "fo_count_matches",
        "freshness_check",
    }
    assert (
        defs.resolve_sensor_def("d365_freshness_checks_sensor").default_status
        == dg.DefaultSensorStatus.RUNNING
    )
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"d365_refresh_all", "d365_refresh_customers_v3", "d365_reconcile_sales_order_lines_v2"} <= jobs
    assert "d365_reconcile_customers_v3" not in jobs


def test_schedule_tick_asks_one_run_per_company(tmp_path: Path) -> None:
    defs = build_definitions(Settings(duckdb_path=str(tmp_path / "w.duckdb")))
    repository = defs.get_repository_def()
    schedule = defs.resolve_schedule_def("d365_refresh_sales_order_lines_v2_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=TICK, repository_def=repository
        ) as context,
    ):
        requests = list(schedule.evaluate_tick(context).run_requests)
    assert sorted(r.partition_key for r in requests) == ["DEMF", "USMF"]
    assert sorted(r.run_key for r in requests) == ["20261126T0200-DEMF", "20261126T0200-USMF"]
    shared = defs.resolve_schedule_def("d365_refresh_main_accounts_schedule")
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=TICK, repository_def=repository
        ) as context,
    ):
        requests = list(shared.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == [None]


@pytest.mark.parametrize(
    ("settings", "status"),
    [
        (Settings(), dg.DefaultScheduleStatus.RUNNING),
        (Settings(environment_url=REAL), dg.DefaultScheduleStatus.STOPPED),
        (Settings(environment_url=REAL, schedules="running"), dg.DefaultScheduleStatus.RUNNING),
    ],
    ids=["emulator", "real-environment", "real-switched-on"],
)
def test_schedules_and_the_freshness_sensor_start_as_the_setting_says(
    settings: Settings, status: dg.DefaultScheduleStatus
) -> None:
    defs = build_definitions(settings)
    assert {schedule.default_status for schedule in defs.schedules} == {status}
    assert defs.resolve_sensor_def("d365_freshness_checks_sensor").default_status.value == status.value
    recovery = defs.resolve_sensor_def("d365_abandoned_runs_sensor")
    assert recovery.default_status == dg.DefaultSensorStatus.RUNNING, "recovery always runs"


def test_owners_and_the_refresh_tag_come_from_the_catalog(tmp_path: Path) -> None:
    document = shipped_document()
    document["defaults"]["owners"] = ["team:finance_data"]
    document_entity(document, "CustomersV3")["owners"] = ["jane@contoso.com"]
    catalog = write_document(tmp_path / "catalog.yaml", document)
    graph = build_definitions(Settings(catalog_path=str(catalog))).resolve_asset_graph()
    customers = graph.get(dg.AssetKey(["d365", "customers_v3"]))
    lines = graph.get(dg.AssetKey(["d365", "sales_order_lines_v2"]))
    assert (customers.owners, lines.owners) == (["jane@contoso.com"], ["team:finance_data"])
    assert (customers.tags["d365/refresh"], lines.tags["d365/refresh"]) == ("full", "delta")
    assert D365MetadataSet.extract(lines.metadata).natural_key == "INVENTORYLOTID"


def test_broken_catalog_fails_definitions_validate(tmp_path: Path) -> None:
    columns = {**shipped_entry("CustomersV3")["columns"], "CREDITLIMIT": "money"}
    catalog = catalog_with(tmp_path, "CustomersV3", columns=columns)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {**os.environ, "D365_CATALOG": str(catalog), "DAGSTER_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "entity CustomersV3: column CREDITLIMIT has unknown type 'money'" in output
    assert str(catalog) in output

    env.pop("D365_CATALOG")
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_instance_config_limits_exports_without_manual_steps(tmp_path: Path) -> None:
    """The repo's dagster.yaml alone gives the `d365_export` pool 4 slots and queues runs beyond 4."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    with dg.instance_for_test(overrides=config) as instance:
        pool = instance.event_log_storage.get_concurrency_info("d365_export")
        assert pool.limit == 4
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
    defs = build_definitions(Settings(duckdb_path=str(tmp_path / "w.duckdb")))
    assert defs.get_assets_def(dg.AssetKey(["d365", "customers_v3"])).op.pool == "d365_export"
