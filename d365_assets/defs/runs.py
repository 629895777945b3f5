"""Runs started from the command line, made ordinary Dagster runs.

``d365-assets demo`` creates each run the way the UI's launchpad does: from the code location that
``workspace.yaml`` names (``d365_assets``), with the location's job snapshot and execution plan and the
origin of the job. The UI therefore treats it like any other run: the Overview timeline lists it
(the timeline groups runs by the repository they came from), and Re-execute matches it to the loaded
job by origin and snapshot, so it warns of no "different version". The run is then executed in this
process by the job's own executor (:mod:`d365_assets.defs.executor`): its entity steps run in
parallel, each in its own process, bounded by the ``d365_export`` pool.

This process stays the run's owner (:mod:`d365_assets.defs.instance`): its step processes end with it,
so a killed demo leaves a run to recover, not steps still running.

Dagster has no public call that creates a run from a code location (the webserver, the daemon and
``dagster job launch`` all call the instance's ``create_run`` with the location's snapshots, as here),
so this module is the one place that uses those internal APIs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_run_id
from dagster._utils.hosted_user_process import recon_job_from_origin

__all__ = [
    "DEFINITIONS_ATTRIBUTE",
    "DEFINITIONS_MODULE",
    "LOCATION_NAME",
    "REPOSITORY_NAME",
    "RunOutcome",
    "code_location",
    "create_run",
    "execute",
    "outcome",
    "partitioned_assets",
    "start_in_child",
]

LOCATION_NAME = "d365_assets"
"""The code location's name, as ``workspace.yaml`` gives it: the UI matches runs to it by name."""
REPOSITORY_NAME = "__repository__"
"""The repository Dagster makes of a ``Definitions`` object."""
DEFINITIONS_MODULE = "d365_assets.definitions"
DEFINITIONS_ATTRIBUTE = "defs"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: its id, status, and the error message of each failed step."""

    run_id: str
    status: dg.DagsterRunStatus
    step_failures: tuple[tuple[str, str], ...]

    @property
    def success(self) -> bool:
        return self.status is dg.DagsterRunStatus.SUCCESS


@contextmanager
def code_location(
    instance: dg.DagsterInstance, *, module: str = DEFINITIONS_MODULE
) -> Iterator[CodeLocation]:
    """The ``d365_assets`` code location, loaded in this process from ``module`` (its ``defs``)."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=module,
            attribute=DEFINITIONS_ATTRIBUTE,
            working_directory=os.getcwd(),
        ),
        location_name=LOCATION_NAME,
    )
    with warnings.catch_warnings():
        # Loading a component's definitions rebuilds the checks with a beta parameter of Dagster's own.
        warnings.simplefilter("ignore", category=dg.BetaWarning)
        location = origin.create_location(instance)
    with location:
        yield location


def partitioned_assets(location: CodeLocation, job_name: str) -> list[dg.AssetKey]:
    """The partitioned assets of ``job_name`` in ``location`` (the keys its definitions gave them)."""
    repository = location.get_repository(REPOSITORY_NAME)
    nodes = repository.get_asset_node_snaps(job_name)
    return [node.asset_key for node in nodes if node.partitions is not None]


def create_run(
    instance: dg.DagsterInstance,
    location: CodeLocation,
    *,
    job_name: str,
    partition_key: str | None = None,
    asset_selection: Collection[dg.AssetKey] | None = None,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, object] | None = None,
) -> dg.DagsterRun:
    """Create (NOT_STARTED) a run of ``job_name`` as the launchpad would, with the location's origin."""
    repository = location.get_repository(REPOSITORY_NAME)
    selector = JobSubsetSelector(
        location_name=location.name,
        repository_name=repository.name,
        job_name=job_name,
        op_selection=None,
        asset_selection=asset_selection,
    )
    remote_job = location.get_job(selector)
    run_config = dict(run_config or {})
    plan = location.get_execution_plan(
        remote_job, run_config, step_keys_to_execute=None, known_state=None, instance=instance
    ).execution_plan_snapshot
    partition_tags = {}
    if partition_key is not None:
        job_def = recon_job_from_origin(remote_job.get_python_origin()).get_definition()
        if partition_key not in job_def.get_partition_keys(asset_selection):
            known = ", ".join(job_def.get_partition_keys(asset_selection))
            raise ValueError(f"{partition_key!r} is not a partition of {job_name} (its partitions: {known})")
        partition_tags = job_def.get_tags_for_partition_key(partition_key, asset_selection)
    return instance.create_run(
        job_name=job_name,
        run_id=make_new_run_id(),
        run_config=run_config,
        status=dg.DagsterRunStatus.NOT_STARTED,
        tags={**remote_job.tags, **partition_tags, **(tags or {})},
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=plan,
        job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        asset_selection=frozenset(asset_selection) if asset_selection else None,
        asset_check_selection=None,
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_graph=repository.asset_graph,
    )


def execute(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunOutcome:
    """Execute a NOT_STARTED run in this process with the job's own executor; returns how it ended."""
    if run.job_code_origin is None:
        raise ValueError(f"run {run.run_id} has no code origin: create it with create_run")
    execute_run(recon_job_from_origin(run.job_code_origin), run, instance)
    return outcome(instance, run.run_id)


def start_in_child(run: dg.DagsterRun, *, output: Path) -> subprocess.Popen[bytes]:
    """Start executing a NOT_STARTED run in a child process that dies with this one (on Linux).

    Runs execute in their own processes, as the run launcher starts them: Dagster sets up logging per
    run, which is not safe for two runs in one process. The instance is ``DAGSTER_HOME``'s; the
    child's output (and its steps') is appended to ``output``.
    """
    if run.job_code_origin is None:
        raise ValueError(f"run {run.run_id} has no code origin: create it with create_run")
    with output.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", __name__, run.run_id],
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent,  # only prctl, before exec
        )


def outcome(instance: dg.DagsterInstance, run_id: str) -> RunOutcome:
    """How run ``run_id`` ended: its status and the error message of each failed step."""
    ended = instance.get_run_by_id(run_id)
    if ended is None:
        raise ValueError(f"run {run_id} is not in the instance")
    failures = instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    return RunOutcome(
        run_id=run_id,
        status=ended.status,
        step_failures=tuple(
            (event.step_key or "", event.dagster_event.step_failure_data.error.message.strip())
            for event in failures
            if event.dagster_event
            and event.dagster_event.step_failure_data
            and event.dagster_event.step_failure_data.error
        ),
    )


def _die_with_parent() -> None:
    """In a child before exec: be SIGKILLed when the parent ends (Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _main(run_id: str) -> int:
    """Execute run ``run_id`` of the instance at ``DAGSTER_HOME`` (the child of :func:`start_in_child`)."""
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise SystemExit(f"run {run_id} is not in the instance at DAGSTER_HOME")
        return 0 if execute(instance, run).success else 1


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1]))
