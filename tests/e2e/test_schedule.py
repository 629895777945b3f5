"""Schedules under `dagster dev`: a per-minute catalog, a tick after F&O activity, one run per company."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from d365_assets.catalog import Catalog, EntityConfig
from d365_assets.definitions import build_definitions
from d365_assets.emulator import Emulator
from d365_assets.schema import RefreshMode
from d365_assets.settings import Settings
from tests.e2e.dagster_dev import DagsterDev, prepare_emulator
from tests.support.catalog import catalog_of
from tests.support.environment import embedded_settings
from tests.support.tables import checksum, source_rows, table_rows

pytestmark = pytest.mark.e2e

ENTITIES = ("CustomersV3", "SalesOrderHeadersV2", "MainAccounts")
EVERY_MINUTE = "* * * * *"
TICK_TIMEOUT = 150.0
"""The first tick comes at the second minute boundary at the latest (< 120 s); its runs take ~10-20 s."""
SCHEDULE_TAG = "dagster/schedule_name"
TICK_TAG = ".dagster/scheduled_execution_time"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

_RUNS_QUERY = """
{ runsOrError(limit: 100) { __typename ... on Runs { results {
    runId jobName status tags { key value } } } } }
"""


def every_minute(entity: dict[str, Any]) -> None:
    """A catalog entry refreshed every minute (its reconcile schedule kept out of the way)."""
    entity["refresh_cron"] = EVERY_MINUTE
    if entity["refresh"] == RefreshMode.DELTA.value:
        entity["reconcile_cron"] = "0 0 1 1 *"


def initial_load(catalog: Catalog, settings: Settings) -> None:
    """Every entity for every company, in process (the path tests/test_end_to_end.py takes)."""
    job = build_definitions(settings).resolve_job_def("d365_refresh_all")
    with dg.instance_for_test() as instance:
        for company in catalog.companies:
            result = job.execute_in_process(instance=instance, partition_key=company, raise_on_error=False)
            assert result.success, [e.message for e in result.all_events if e.is_failure]


def expected_runs(catalog: Catalog) -> set[tuple[str, str | None]]:
    """(schedule name, partition) of the runs one tick launches."""
    return {
        (f"d365_refresh_{e.table_name}_schedule", company)
        for e in catalog.entities
        for company in (e.companies if e.company_specific else [None])
    }


def wait_for_first_tick(server: DagsterDev, catalog: Catalog) -> list[dict[str, Any]]:
    """The runs of the first scheduled tick, once all of them have finished."""
    wanted = expected_runs(catalog)
    deadline = time.monotonic() + TICK_TIMEOUT
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        ticks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for run in server.graphql(_RUNS_QUERY)["runsOrError"]["results"]:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            if SCHEDULE_TAG in tags:
                ticks[tags.get(TICK_TAG, "")].append({**run, "tags": tags})
        if ticks:
            seen = ticks[min(ticks)]
            launched = {(r["tags"][SCHEDULE_TAG], r["tags"].get("dagster/partition")) for r in seen}
            if launched == wanted and all(r["status"] in TERMINAL for r in seen):
                return seen
        time.sleep(1.0)
    summary = [(r["jobName"], r["tags"].get("dagster/partition"), r["status"]) for r in seen]
    raise AssertionError(
        f"no complete tick in {TICK_TIMEOUT:.0f} s; runs of the first tick: {summary}\n{server.log_tail()}"
    )


def assert_current(database: Path, emulator: Emulator, entity: EntityConfig, company: str | None) -> None:
    """The table holds what F&O holds now (a delta table may also keep rows deleted at the source)."""
    loaded, source = table_rows(database, entity, company), source_rows(emulator, entity, company)
    if entity.refresh is RefreshMode.FULL:
        assert len(loaded) == len(source), f"{entity.name} {company}"
        assert checksum(loaded) == checksum(source), f"{entity.name} {company}"
    else:
        missing = set(source) - set(loaded)
        assert not missing, f"{entity.name} {company}: {len(missing)} current rows missing or stale"


def test_schedule_tick_loads_new_activity(tmp_path: Path, dagster_dev_factory: Any) -> None:
    """Initial load, F&O activity, then the per-minute schedules pick up the changes for every company."""
    catalog = catalog_of(tmp_path / "catalog.yaml", ENTITIES, change=every_minute)
    state_dir = prepare_emulator(tmp_path)
    settings = embedded_settings(state_dir, tmp_path, catalog=tmp_path / "catalog.yaml")  # as dagster dev's
    database = Path(settings.duckdb_path)
    initial_load(catalog, settings)
    emulator = Emulator(state_dir=state_dir)
    customers, headers = catalog.entity("CustomersV3"), catalog.entity("SalesOrderHeadersV2")
    before = {e.name: table_rows(database, e, "USMF") for e in (customers, headers)}
    emulator.advance_activity(1)
    assert source_rows(emulator, headers, "USMF") != before[headers.name], "activity changes the orders"

    server = dagster_dev_factory({"D365_CATALOG": str(tmp_path / "catalog.yaml")})
    runs = wait_for_first_tick(server, catalog)
    failed = [
        (r["jobName"], r["tags"].get("dagster/partition"), r["status"])
        for r in runs
        if r["status"] != "SUCCESS"
    ]
    assert not failed, f"scheduled runs did not succeed: {failed}\n{server.log_tail()}"
    server.stop()  # no further ticks write while the warehouse is read

    for entity in catalog.entities:
        for company in entity.companies if entity.company_specific else [None]:
            assert_current(database, emulator, entity, company)
    assert table_rows(database, headers, "USMF") != before[headers.name], "the delta brought the changes"
