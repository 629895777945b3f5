"""A custom translator: the whole code location follows its specs (keys, owners, tags, partitions).

Assets, their checks, the freshness checks and their sensor, every job and schedule, the runs of
``d365-assets demo``, and a real materialization against the emulator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from d365_assets.definitions import build_definitions
from d365_assets.defs import D365MetadataSet
from d365_assets.defs.automation import MAIN_JOB
from d365_assets.defs.runs import code_location, create_run, partitioned_assets
from d365_assets.emulator import Emulator
from d365_assets.settings import Settings
from tests.support import erp_location
from tests.support.catalog import CATALOG
from tests.support.environment import embedded_settings
from tests.support.runs import check_results

ERP_KEYS = {dg.AssetKey([*erp_location.PREFIX, e.table_name]) for e in CATALOG.entities}
TICK = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def erp_definitions(tmp_path: Path) -> dg.Definitions:
    return build_definitions(
        Settings(duckdb_path=str(tmp_path / "w.duckdb")), translator=erp_location.ErpTranslator()
    )


def test_assets_and_every_check_follow_the_translator(tmp_path: Path) -> None:
    defs = erp_definitions(tmp_path)
    graph = defs.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) == ERP_KEYS
    assert {graph.get(key).owners[0] for key in ERP_KEYS} == {erp_location.OWNER}
    checks = graph.asset_check_keys
    assert {check.asset_key for check in checks} == ERP_KEYS
    assert {check.name for check in checks} >= {"package_rows_loaded", "row_count_stable", "freshness_check"}
    sensor = defs.resolve_sensor_def("d365_freshness_checks_sensor")
    monitored = sensor.asset_selection.resolve_checks(graph)
    assert {check.asset_key for check in monitored} == ERP_KEYS


def test_jobs_and_schedules_follow_the_translator(tmp_path: Path) -> None:
    defs = erp_definitions(tmp_path)
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("d365_"):
            assert job.asset_layer.selected_asset_keys, job.name
            assert job.asset_layer.selected_asset_keys <= ERP_KEYS, job.name
    assert defs.resolve_job_def(MAIN_JOB).asset_layer.selected_asset_keys == ERP_KEYS
    schedule = defs.resolve_schedule_def("d365_refresh_sales_order_lines_v2_schedule")
    lines = defs.resolve_job_def(schedule.job_name).asset_layer.selected_asset_keys
    assert lines == {dg.AssetKey([*erp_location.PREFIX, "sales_order_lines_v2"])}
    repository = defs.get_repository_def()
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=TICK, repository_def=repository
        ) as context,
    ):
        requests = list(schedule.evaluate_tick(context).run_requests)
    assert sorted(r.partition_key for r in requests) == ["DEMF", "USMF"]


def test_the_cli_runs_the_keys_of_the_location(tmp_path: Path) -> None:
    """``d365-assets demo`` asks, after the first company, for the location's partitioned assets."""
    partitioned = {
        dg.AssetKey([*erp_location.PREFIX, e.table_name])
        for e in CATALOG.entities
        if e.company_specific and e.companies == CATALOG.companies
    }
    with (
        dg.instance_for_test() as instance,
        code_location(instance, module=erp_location.__name__) as location,
    ):
        keys = partitioned_assets(location, MAIN_JOB)
        assert set(keys) == partitioned
        run = create_run(instance, location, job_name=MAIN_JOB, partition_key="DEMF", asset_selection=keys)
    assert run.asset_selection == partitioned


def test_a_materialization_under_the_translated_key(tmp_path: Path, emulator: Emulator) -> None:
    defs = build_definitions(embedded_settings(emulator, tmp_path), translator=erp_location.ErpTranslator())
    key = dg.AssetKey([*erp_location.PREFIX, "vendors_v2"])
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [defs.get_assets_def(key)], resources=defs.resources, instance=instance, partition_key="USMF"
        )
        (materialization,) = result.asset_materializations_for_node("d365_vendors_v2")
        assert materialization.asset_key == key
        assert all(check.asset_key == key for check in result.get_asset_check_evaluations())
        assert all(check.passed for check in check_results(result).values())
        assert D365MetadataSet.extract(materialization.metadata).mode == "full"
        assert instance.get_latest_materialization_event(key) is not None
