"""The recurring job's sensor and its runs: Dagster asks, one message at a time, in queue order.

The sensor is evaluated against a real instance and the emulator addressed as a real F&O
environment (HTTPS, msal); each run it requests executes in process with the tags it produced.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from d365_assets.catalog import load_catalog
from d365_assets.definitions import build_definitions
from d365_assets.defs import D365Resource
from d365_assets.defs.metadata import D365MetadataSet
from d365_assets.defs.recurring import (
    CORRELATION_TAG,
    FIRST_DEQUEUED_TAG,
    RECURRING_JOB_TAG,
    RECURRING_MESSAGE_TAG,
    build_recurring_sensors,
)
from d365_assets.emulator import Emulator
from d365_assets.refresh.queue import CLOCK_MARGIN
from tests.support.environment import as_real_environment
from tests.support.recurring import (
    ACTIVITY,
    COMPANY,
    ENTITY,
    QUICK_VISIBILITY,
    produce,
    recurring_catalog,
    recurring_config,
    recurring_entity,
)
from tests.support.runs import check_results, failure_message
from tests.support.tables import source_rows, table_rows

SENSOR = "d365_recurring_sales_order_headers_v2"
JOB = "d365_refresh_sales_order_headers_v2"


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str = SENSOR):
    """One evaluation of the sensor: its run requests and its skip message."""
    return evaluate(defs, defs.resolve_sensor_def(name), instance)


def evaluate(defs: dg.Definitions, sensor: dg.SensorDefinition, instance: dg.DagsterInstance):
    context = dg.build_sensor_context(
        instance=instance, resources={"d365": D365Resource()}, repository_def=defs.get_repository_def()
    )
    return sensor.evaluate_tick(context)


def definitions_for(
    emu: Emulator, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dg.Definitions, Path]:
    """The code location against ``emu`` as a real environment, its catalog the recurring entity's."""
    as_real_environment(emu, folder, monkeypatch)
    catalog = recurring_catalog(folder)
    monkeypatch.setenv("D365_CATALOG", str(catalog))
    return build_definitions(), catalog


def test_the_sensor_runs_load_a_full_and_two_deltas_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator(tmp_path / "emulator", recurring_config()) as emu:
        ids = produce(emu, 3)
        as_real_environment(emu, tmp_path, monkeypatch)
        monkeypatch.setenv("D365_CATALOG", str(recurring_catalog(tmp_path)))
        monkeypatch.setenv("D365_SCHEDULES", "stopped")
        defs = build_definitions()
        job = defs.resolve_job_def(JOB)
        assert defs.resolve_sensor_def(SENSOR).default_status is dg.DefaultSensorStatus.STOPPED
        assert [s.name for s in defs.schedules if s.job_name == JOB] == []  # the sensor replaces it
        loaded = []
        with dg.instance_for_test() as instance:
            while (data := tick(defs, instance)).run_requests:
                (request,) = data.run_requests
                assert request.partition_key == COMPANY
                result = job.execute_in_process(
                    instance=instance, partition_key=request.partition_key, tags=request.tags
                )
                assert result.success, failure_message(result)
                (materialization,) = result.get_asset_materialization_events()
                metadata = D365MetadataSet.extract(materialization.materialization.metadata)
                loaded.append((metadata.correlation_id, metadata.message_status, metadata.package_rows))
                assert all(c.passed for c in check_results(result).values())
            assert "empty" in data.skip_message
        entity = recurring_entity()
        assert table_rows(tmp_path / "warehouse.duckdb", entity, COMPANY) == source_rows(emu, entity, COMPANY)
        assert emu.recurring_waiting(ACTIVITY) == 0
    assert [correlation for correlation, _, _ in loaded] == ids
    assert {status for _, status, _ in loaded} == {"Acked"}
    assert loaded[0][2] == 60
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        ledger = con.execute("SELECT execution_id FROM d365._load_ledger ORDER BY finished_at").fetchall()
    assert [row[0] for row in ledger] == [f"recurring-{i}" for i in ids]


def test_the_sensor_waits_while_a_run_is_queued_and_after_a_failed_one_and_runs_keep_their_company(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator(tmp_path / "emulator", recurring_config()) as emu:
        produce(emu, 1)
        defs, catalog = definitions_for(emu, tmp_path, monkeypatch)
        job = defs.resolve_job_def(JOB)
        with dg.instance_for_test() as instance:
            queued = instance.create_run_for_job(job, tags={"dagster/partition": COMPANY})  # not started
            assert "queued or in progress" in tick(defs, instance).skip_message
            instance.delete_run(queued.run_id)

            # A run that fails before loading (its message tag is unreadable) leaves its message.
            tags = {RECURRING_MESSAGE_TAG: "not a message", RECURRING_JOB_TAG: ACTIVITY}
            failed = job.execute_in_process(
                instance=instance, partition_key=COMPANY, tags=tags, raise_on_error=False
            )
            assert "launch runs of a recurring job from its sensor" in failure_message(failed)
            assert "visibility timeout" in tick(defs, instance).skip_message
            assert emu.recurring_waiting(ACTIVITY) == 1

            (no_pause,) = build_recurring_sensors(load_catalog(catalog), pause_after_failure=0.0)
            (request,) = evaluate(defs, no_pause, instance).run_requests
            assert request.run_key.endswith("@first")

            # The message's run for another company than the job's is refused, the message kept.
            elsewhere = job.execute_in_process(
                instance=instance, partition_key="DEMF", tags=request.tags, raise_on_error=False
            )
        assert "which exports USMF, but runs partition DEMF" in failure_message(elsewhere)
        assert emu.recurring_waiting(ACTIVITY) == 1


def test_a_message_keeps_its_first_dequeue_when_it_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator(tmp_path / "emulator", recurring_config()) as emu:
        produce(emu, 1)
        defs, catalog = definitions_for(emu, tmp_path, monkeypatch)
        (no_pause,) = build_recurring_sensors(load_catalog(catalog), pause_after_failure=0.0)
        with dg.instance_for_test() as instance:
            (first,) = evaluate(defs, no_pause, instance).run_requests
            first_time = datetime.fromisoformat(first.tags[FIRST_DEQUEUED_TAG])
            assert abs(first_time.timestamp() - time.time()) < 30
            run = instance.create_run_for_job(defs.resolve_job_def(JOB), tags=first.tags)
            instance.report_run_failed(run)  # it never acknowledged its message
            time.sleep(QUICK_VISIBILITY + 0.2)

            (again,) = evaluate(defs, no_pause, instance).run_requests
    assert again.tags[CORRELATION_TAG] == first.tags[CORRELATION_TAG]
    assert again.run_key != first.run_key  # a new delivery
    assert again.tags[FIRST_DEQUEUED_TAG] == first.tags[FIRST_DEQUEUED_TAG]


def test_a_message_run_waiting_behind_a_reconcile_is_acknowledged_without_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = recurring_config(rows={ENTITY: 600}, delete_rate=0.08, recurring_visibility_seconds=120.0)
    with Emulator(tmp_path / "emulator", config) as emu:
        produce(emu, 1)
        defs, _ = definitions_for(emu, tmp_path, monkeypatch)
        job = defs.resolve_job_def(JOB)
        with dg.instance_for_test() as instance:
            (full,) = tick(defs, instance).run_requests
            assert job.execute_in_process(instance=instance, partition_key=COMPANY, tags=full.tags).success
            emu.advance_activity(1)
            emu.run_recurring_job(ACTIVITY)
            (delta,) = tick(defs, instance).run_requests  # dequeued; its run starts after the reconcile
            time.sleep(CLOCK_MARGIN)
            emu.advance_activity(3)
            reconcile = defs.resolve_job_def(f"d365_reconcile_{recurring_entity().table_name}")
            assert reconcile.execute_in_process(instance=instance, partition_key=COMPANY).success

            late = job.execute_in_process(instance=instance, partition_key=COMPANY, tags=delta.tags)
        assert late.success, failure_message(late)
        (materialization,) = late.get_asset_materialization_events()
        metadata = D365MetadataSet.extract(materialization.materialization.metadata)
        assert metadata.message_superseded is True
        assert (metadata.package_rows, metadata.rows_inserted, metadata.rows_updated) == (0, 0, 0)
        assert metadata.message_status == "Acked"
        entity = recurring_entity()
        assert table_rows(tmp_path / "warehouse.duckdb", entity, COMPANY) == source_rows(emu, entity, COMPANY)
        assert emu.recurring_waiting(ACTIVITY) == 0
