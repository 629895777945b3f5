"""`d365-assets demo` makes ordinary runs: the UI lists them on its Overview timeline, matches them to the
loaded job for Re-execute (no "may be a different version" warning), re-executes them, and their entity
steps ran at the same time.

The demo runs beside `dagster dev` on the same instance; the test asks the webserver's GraphQL API what
the UI asks it (the timeline's and the run menu's queries), and applies the UI's own matching rules
(``useRunsForTimeline.tsx``, ``useRepositoryForRun.ts`` in dagster-webserver's UI).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from d365_assets.cli import LAUNCHED_BY_TAG
from d365_assets.defs.instance import recover_abandoned_runs
from d365_assets.defs.runs import LOCATION_NAME, REPOSITORY_NAME
from tests.e2e.dagster_dev import ROOT, DagsterDev
from tests.support.catalog import catalog_of

pytestmark = pytest.mark.e2e

ENTITIES = ("CustomersV3", "MainAccounts", "SalesOrderLinesV2", "PurchaseOrderLinesV2")
"""Four entity steps in the first run (up to four run at once), three in the second."""
DEMO_TIMEOUT = 300.0
RUN_TIMEOUT = 180.0

TIMELINE_QUERY = """
query ($filter: RunsFilter!) { completed: runsOrError(filter: $filter, limit: 500) { ... on Runs {
    results { id pipelineName status startTime endTime updateTime tags { key value }
              repositoryOrigin { repositoryName repositoryLocationName } } } } }
"""
"""The Overview timeline's CompletedRunTimelineQuery: runs updated in a time range, with their origin."""
WORKSPACE_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
    ... on RepositoryLocation { name repositories { name pipelines { name pipelineSnapshotId } } } } } } } }
"""
RUN_QUERY = """
query ($runId: ID!) { runOrError(runId: $runId) { ... on Run {
    id status pipelineName pipelineSnapshotId parentPipelineSnapshotId parentRunId tags { key value }
    repositoryOrigin { repositoryName repositoryLocationName } } } }
"""
"""What the run menu asks before it offers Re-execute (RunActionsMenu's PipelineEnvironmentQuery)."""
REEXECUTE = """
mutation ($parentRunId: String!) { launchPipelineReexecution(
    reexecutionParams: {parentRunId: $parentRunId, strategy: ALL_STEPS}) {
  __typename ... on LaunchRunSuccess { run { id } } ... on PythonError { message } } }
"""
"""The run page's Re-execute all: a re-execution by parent run id and strategy, as the UI sends it."""


def repository_options(server: DagsterDev) -> list[dict[str, Any]]:
    """(location, repository, {job: snapshot id}) of every loaded repository, as the UI keeps them."""
    entries = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    return [
        {
            "location": entry["name"],
            "repository": repository["name"],
            "jobs": {p["name"]: p["pipelineSnapshotId"] for p in repository["pipelines"]},
        }
        for entry in entries
        for repository in (entry["locationOrLoadError"] or {}).get("repositories", [])
    ]


def reexecution_match(options: list[dict[str, Any]], run: dict[str, Any]) -> str | None:
    """The UI's useRepositoryForRunWithParentSnapshot: how well a loaded job matches the run.

    Only 'origin-and-snapshot' re-executes without a warning.
    """
    name = run["pipelineName"]
    snapshot = run["parentPipelineSnapshotId"] or run["pipelineSnapshotId"]
    origin = run["repositoryOrigin"]
    by_origin = [
        o
        for o in options
        if origin
        and (o["repository"], o["location"]) == (origin["repositoryName"], origin["repositoryLocationName"])
        and name in o["jobs"]
    ]
    by_snapshot = [o for o in options if o["jobs"].get(name) == snapshot]
    if by_origin:
        return "origin-and-snapshot" if by_origin[0] in by_snapshot else "origin-only"
    if by_snapshot:
        return "snapshot-only"
    return "pipeline-name-only" if any(name in o["jobs"] for o in options) else None


def timeline_rows(options: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The UI's useRunsForTimeline: run ids by timeline row (job and repository); runs without an origin
    or a start time are left out."""
    rows: dict[str, set[str]] = {}
    for run in runs:
        origin = run["repositoryOrigin"]
        if run["startTime"] is None or origin is None:
            continue
        key = f"{run['pipelineName']}@{origin['repositoryName']}@{origin['repositoryLocationName']}"
        rows.setdefault(key, set()).add(run["id"])
    loaded = {f"{job}@{o['repository']}@{o['location']}" for o in options for job in o["jobs"]}
    assert set(rows) <= loaded, f"timeline rows for jobs not in the workspace: {set(rows) - loaded}"
    return rows


def wait_for(condition: Callable[[], bool], what: str, timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.5)


def step_intervals(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """(start, end) time of every entity step of a run, from its STEP_START and STEP_SUCCESS events."""
    times: dict[str, list[float]] = {}
    for kind in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
        for event in instance.all_logs(run_id, of_type=kind):
            if event.step_key and event.step_key.startswith("d365_"):
                times.setdefault(event.step_key, []).append(event.timestamp)
    return {step: (min(t), max(t)) for step, t in times.items() if len(t) == 2}


def test_demo_runs_are_on_the_timeline_reexecute_cleanly_and_run_steps_in_parallel(
    tmp_path: Path, dagster_dev_factory: Callable[..., DagsterDev]
) -> None:
    catalog_of(tmp_path / "catalog.yaml", ENTITIES)
    server = dagster_dev_factory({"D365_CATALOG": str(tmp_path / "catalog.yaml")})
    began = time.time()
    demo = subprocess.run(
        [sys.executable, "-m", "d365_assets.cli", "demo"],
        cwd=ROOT, env=server.environment, capture_output=True, text=True, timeout=DEMO_TIMEOUT,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "STEP_WORKER_STARTED" not in demo.stdout + demo.stderr, "step chatter belongs in the log file"

    completed = server.graphql(
        TIMELINE_QUERY,
        {"filter": {"statuses": ["SUCCESS", "FAILURE", "CANCELED"], "updatedAfter": began - 1}},
    )["completed"]["results"]
    demo_runs = [r for r in completed if {"key": LAUNCHED_BY_TAG, "value": "d365-assets demo"} in r["tags"]]
    assert len(demo_runs) == 2, completed
    assert all(r["status"] == "SUCCESS" for r in demo_runs), demo_runs
    for run in demo_runs:
        assert run["repositoryOrigin"] == {
            "repositoryName": REPOSITORY_NAME,
            "repositoryLocationName": LOCATION_NAME,
        }
    options = repository_options(server)
    rows = timeline_rows(options, demo_runs)
    assert rows == {f"d365_refresh_all@{REPOSITORY_NAME}@{LOCATION_NAME}": {r["id"] for r in demo_runs}}

    details = [server.graphql(RUN_QUERY, {"runId": r["id"]})["runOrError"] for r in demo_runs]
    assert {reexecution_match(options, run) for run in details} == {"origin-and-snapshot"}, details
    subset = next(run for run in details if run["parentPipelineSnapshotId"])  # the second, shared-less run

    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        for run in demo_runs:
            intervals = sorted(step_intervals(instance, run["id"]).values())
            assert len(intervals) >= 3, intervals
            overlapping = [(a, b) for a, b in itertools.pairwise(intervals) if b[0] < a[1]]
            assert overlapping, f"the steps of run {run['id']} ran one after another: {intervals}"

        launched = server.graphql(REEXECUTE, {"parentRunId": subset["id"]})["launchPipelineReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        rerun = launched["run"]["id"]
        status = lambda: instance.get_run_by_id(rerun).status  # noqa: E731
        wait_for(lambda: status() is not dg.DagsterRunStatus.QUEUED and status() is not None, "rerun start")
        # The re-execution inherits the demo's owner tags, and the demo process is gone: recovery
        # must still leave a run it did not create alone.
        assert recover_abandoned_runs(instance) == []
        wait_for(lambda: instance.get_run_by_id(rerun).is_finished, "the re-execution to finish")
        assert status() is dg.DagsterRunStatus.SUCCESS, server.log_tail()
        again = server.graphql(RUN_QUERY, {"runId": rerun})["runOrError"]
        assert again["parentRunId"] == subset["id"]
        assert reexecution_match(options, again) == "origin-and-snapshot"
