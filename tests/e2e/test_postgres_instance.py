"""The production instance: docs/deploy/dagster.yaml on a real PostgreSQL server, two runs at once.

`dagster dev` (webserver, daemon, code server) runs with the documented dagster.yaml against a private
PostgreSQL server; two partitions of an entity are launched together through the webserver, queued by the
daemon and executed by run workers. Both succeed, at the same time; their runs, events and the daemon's
sensor ticks are rows in PostgreSQL (and no SQLite storage appears); the DuckDB table holds what F&O holds.

Needs Debian's ``postgresql`` package; without it the test is skipped locally and fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from d365_assets.catalog import load_catalog
from tests.e2e.dagster_dev import ROOT, DagsterDev
from tests.e2e.postgres_server import PostgresServer, programs_folder, running_postgres
from tests.support.tables import checksum, source_rows, table_rows

pytestmark = pytest.mark.e2e

DEPLOY_YAML = ROOT / "docs" / "deploy" / "dagster.yaml"
JOB = "d365_refresh_customers_v3"
COMPANIES = ("USMF", "DEMF")
RUN_TIMEOUT = 240.0
"""Seconds for both runs to be dequeued, start their workers and finish on 2 busy cores."""
TICK_TIMEOUT = 120.0
"""Seconds for the daemon to evaluate a sensor (every 30 to 60 s) and store the tick."""


@pytest.fixture
def postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A running private PostgreSQL server; its DAGSTER_PG_* variables set for this test's process."""
    programs = programs_folder()
    if programs is None:
        reason = "Debian's postgresql package is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    with running_postgres(tmp_path, programs) as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        yield server


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:gql.*")
def test_two_runs_at_once_on_a_postgres_instance(
    postgres: PostgresServer, dagster_dev_factory: Callable[..., DagsterDev]
) -> None:
    server = dagster_dev_factory(postgres.environment(), dagster_yaml=DEPLOY_YAML)
    client = server.client()
    run_ids = [client.submit_job_execution(JOB, tags={"dagster/partition": c}) for c in COMPANIES]

    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = lambda: [instance.get_run_by_id(run_id) for run_id in run_ids]  # noqa: E731
        wait_for(lambda: all(r is not None and r.is_finished for r in runs()), "both runs", RUN_TIMEOUT)
        statuses = {r.run_id: r.status for r in runs()}
        assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}, (statuses, server.log_tail())
        records = {r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(run_ids=run_ids))}
        first, second = sorted(records.values(), key=lambda r: r.start_time or 0)
        assert second.start_time < first.end_time, "the two runs did not overlap in time"

    stored = dict(postgres.query("SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (run_ids,)))
    assert stored == dict.fromkeys(run_ids, "SUCCESS")
    materialized = postgres.query(
        "SELECT run_id, partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
        "AND asset_key = %s ORDER BY partition",
        ('["d365", "customers_v3"]',),
    )
    assert sorted(materialized, key=lambda row: row[1]) == sorted(
        zip(run_ids, COMPANIES, strict=True), key=lambda row: row[1]
    )
    checks = postgres.query(
        "SELECT count(*) FROM asset_check_executions "
        "WHERE run_id = ANY(%s) AND execution_status = 'SUCCEEDED'",
        (run_ids,),
    )
    assert checks[0][0] >= 2 * 4, "the entity checks of both runs are stored"
    wait_for(
        lambda: postgres.query("SELECT count(*) FROM job_ticks")[0][0] > 0, "a sensor tick", TICK_TIMEOUT
    )
    assert not (server.home / "history").exists(), "no SQLite run storage beside PostgreSQL"
    assert not (server.home / "schedules").exists(), "no SQLite schedule storage beside PostgreSQL"

    customers = load_catalog().entity("CustomersV3")
    emulator = server.emulator()
    for company in COMPANIES:
        loaded, source = (
            table_rows(server.duckdb_path, customers, company),
            source_rows(emulator, customers, company),
        )
        assert len(loaded) == len(source) > 0, company
        assert checksum(loaded) == checksum(source), company
