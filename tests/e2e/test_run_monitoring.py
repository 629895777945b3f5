"""Runs launched through `dagster dev` (the default run launcher) whose worker is killed.

The code server notices the dead worker and fails the run; run monitoring, as the repository's
dagster.yaml configures it (only its intervals shortened here), then frees the pool slot the run still
claims, so the next run in the pool starts at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from d365_assets.defs.assets import EXPORT_POOL
from tests.e2e.dagster_dev import START_TIMEOUT, free_port, stop_process_group
from tests.owned_runs import HOLD_STEP, ROOT, environment, pool_claims, wait_for

pytestmark = pytest.mark.e2e

QUICKER = {"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1}
"""The monitoring intervals, shortened for the test; every other key is as shipped."""
DAGSTER_DEV = [sys.executable, "-m", "dagster", "dev", "-m", "tests.owned_runs"]
RUN_TIMEOUT = 60.0
"""Seconds for a launched run to reach its step, fail after a kill, or lose its slot."""


def write_home(home: Path) -> None:
    """A Dagster home with the repository's dagster.yaml, run monitoring polling every second."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True, "dagster.yaml turns run monitoring on"
    assert set(QUICKER) <= set(monitoring), "dagster.yaml sets both intervals"
    monitoring.update(QUICKER)
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


@contextlib.contextmanager
def dagster_dev(home: Path, log: Path) -> Iterator[DagsterGraphQLClient]:
    """`dagster dev` serving ``tests.owned_runs`` in its own process group; stopped on exit."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*DAGSTER_DEV, "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env={**environment(home), "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)
    finally:
        stop_process_group(process)


def submit(client: DagsterGraphQLClient, job: str, run_config: Mapping[str, Any] | None = None) -> str:
    """Launch ``job`` once the server answers with its code location loaded; returns the run id."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            return client.submit_job_execution(job, run_config=dict(run_config or {}))
        except (DagsterGraphQLClientError, OSError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not launch {job} within {START_TIMEOUT:.0f} s: {exc}") from exc
            time.sleep(0.5)


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return run.status if run else None


@pytest.mark.filterwarnings("ignore::DeprecationWarning:gql.*")
def test_a_killed_run_worker_fails_its_run_and_monitoring_frees_its_slot(tmp_path: Path) -> None:
    home, marker = tmp_path / "dagster_home", tmp_path / "holding"
    write_home(home)
    hold_config = {"ops": {HOLD_STEP: {"config": {"marker": str(marker)}}}}
    # The instance's storage is created before `dagster dev` starts: opened at the same moment by this
    # process and dagster dev's webserver, SQLite's tables were created twice and the webserver died
    # ("table alembic_version already exists"), failing this test once in a full run.
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        dagster_dev(home, tmp_path / "dagster-dev.log") as client,
    ):
        instance.event_log_storage.set_concurrency_slots(EXPORT_POOL, 1)  # a claim left behind blocks all
        held = submit(client, "hold_export_slot_job", hold_config)
        wait_for(marker.exists, "the launched step claiming its slot", RUN_TIMEOUT)
        assert pool_claims(instance)[0] == {(held, HOLD_STEP)}
        step, worker = map(int, marker.read_text().split())
        for pid in (worker, step):  # the run worker and its step process: gone as on an OOM kill
            os.kill(pid, signal.SIGKILL)

        wait_for(lambda: status(instance, held) is dg.DagsterRunStatus.FAILURE, "run failed", RUN_TIMEOUT)
        wait_for(lambda: pool_claims(instance) == (set(), set()), "slot freed", RUN_TIMEOUT)

        quick = submit(client, "quick_export_job")
        wait_for(lambda: status(instance, quick) is dg.DagsterRunStatus.SUCCESS, "the next run", RUN_TIMEOUT)
        messages = [r.event_log_entry.message or "" for r in instance.get_records_for_run(quick).records]
        assert not [m for m in messages if "blocked by limit" in m]
