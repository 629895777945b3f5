"""The Dagster instance of runs executed in our own process (``d365-assets demo``).

Two guards:

- First creation of the instance's SQLite storage is not safe against a second process doing the
  same (both stamp a schema version, and every later start fails), so it happens under a file lock
  in ``DAGSTER_HOME``.
- A run executed in process has no run worker for Dagster to watch: when the process is killed, the
  run stays STARTED and keeps the pool slots its steps claimed, and every later run waits on them.
  Such runs carry their owner (host, PID, process start) as tags; at the next start, a run whose
  owner is gone is marked failed, with an event saying why, and its pool slots are freed. A
  re-execution of such a run (Re-execute in the UI) inherits those tags but runs elsewhere: a run
  with a parent run is never judged by them.

Runs launched by the daemon or the UI are watched by Dagster itself (``run_monitoring`` in
dagster.yaml).
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from filelock import FileLock, Timeout

from d365_assets.errors import D365AssetsError
from d365_assets.process_owner import Liveness, ProcessOwner

__all__ = [
    "INSTANCE_LOCK",
    "OWNER_HOST_TAG",
    "OWNER_PID_TAG",
    "OWNER_STARTED_TAG",
    "RECOVERY_SENSOR",
    "AbandonedRun",
    "InstanceSetupError",
    "build_abandoned_runs_sensor",
    "open_instance",
    "owner_from_tags",
    "owner_tags",
    "recover_abandoned_runs",
]

OWNER_HOST_TAG = "d365/owner_host"
OWNER_PID_TAG = "d365/owner_pid"
OWNER_STARTED_TAG = "d365/owner_started"
INSTANCE_LOCK = ".d365-assets.lock"
"""File in ``DAGSTER_HOME`` held while the instance is created and cleared of abandoned runs."""
LOCK_TIMEOUT_SECONDS = 120.0

_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class InstanceSetupError(D365AssetsError):
    """The instance cannot be opened: ``DAGSTER_HOME`` is unusable, or another process holds its lock."""


@dataclass(frozen=True)
class AbandonedRun:
    """A run whose owning process died, as it was cleared."""

    run_id: str
    partition: str | None
    owner: ProcessOwner
    marked_failed: bool
    """False when the run had already ended and only its pool slots were still claimed."""
    freed_slots: tuple[tuple[str, str], ...]
    """(pool, step key) of every slot claimed or queued for by the run."""

    def describe(self) -> str:
        """One line: which run, whose process, what was done."""
        marked = "marked failed, " if self.marked_failed else ""
        return (
            f"run {self.run_id[:8]} for {self.partition or '-'}: its process ({self.owner.describe()}) "
            f"is gone; {marked}freed {len(self.freed_slots)} pool slot(s)"
        )


def owner_tags(owner: ProcessOwner | None = None) -> dict[str, str]:
    """Run tags naming ``owner`` (this process by default) as the process executing the run."""
    owner = owner or ProcessOwner.current()
    return {OWNER_HOST_TAG: owner.host, OWNER_PID_TAG: str(owner.pid), OWNER_STARTED_TAG: owner.started}


def owner_from_tags(tags: Mapping[str, str]) -> ProcessOwner | None:
    """The owner recorded by :func:`owner_tags`, or None for a run without (a readable) one."""
    try:
        return ProcessOwner(
            host=tags[OWNER_HOST_TAG], pid=int(tags[OWNER_PID_TAG]), started=tags.get(OWNER_STARTED_TAG, "")
        )
    except (KeyError, ValueError):
        return None


@contextmanager
def instance_lock(directory: str | Path, *, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold :data:`INSTANCE_LOCK` in ``directory`` (the instance's home)."""
    path = Path(directory) / INSTANCE_LOCK
    try:
        with FileLock(path, timeout=timeout):
            yield
    except Timeout:
        raise InstanceSetupError(
            f"another d365-assets process has held {path} for over {timeout:.0f} s while opening the "
            f"Dagster instance; wait for it to finish (or end it) and run this again"
        ) from None


def open_instance(*, timeout: float = LOCK_TIMEOUT_SECONDS) -> tuple[dg.DagsterInstance, list[AbandonedRun]]:
    """The instance at ``DAGSTER_HOME``, created under its lock and cleared of our abandoned runs.

    The caller closes the instance (``with instance:``).
    """
    raw = os.environ.get("DAGSTER_HOME", "").strip()
    if not raw:
        raise InstanceSetupError(
            "DAGSTER_HOME is not set, so the runs would not be recorded: "
            "run `make demo`, or `export DAGSTER_HOME=$PWD` in the repository first."
        )
    home = Path(raw).expanduser()
    if not home.is_dir():
        raise InstanceSetupError(
            f"DAGSTER_HOME={raw} is not an existing folder: create it (mkdir -p {raw}), or point "
            "DAGSTER_HOME at the folder that holds dagster.yaml."
        )
    with instance_lock(home, timeout=timeout):
        instance = dg.DagsterInstance.get()
        try:
            return instance, _recover(instance)
        except BaseException:
            instance.dispose()
            raise


def recover_abandoned_runs(
    instance: dg.DagsterInstance, *, timeout: float = LOCK_TIMEOUT_SECONDS
) -> list[AbandonedRun]:
    """Mark failed, and free the pool slots of, every run of this host whose owning process is gone."""
    with instance_lock(instance.root_directory, timeout=timeout):
        return _recover(instance)


def _recover(instance: dg.DagsterInstance) -> list[AbandonedRun]:
    slots = _slots_by_run(instance)
    host = {OWNER_HOST_TAG: socket.gethostname()}
    unfinished = instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED, tags=host))
    runs = {r.run_id: r for r in unfinished}
    if holding := sorted(set(slots) - set(runs)):  # ended runs that still hold slots
        ended = instance.get_runs(filters=dg.RunsFilter(run_ids=holding, tags=host))
        runs.update({r.run_id: r for r in ended})
    abandoned = []
    for run in runs.values():
        if run.parent_run_id is not None:
            continue  # a re-execution (from the UI, a retry) inherits its parent's tags, not its process
        owner = owner_from_tags(run.tags)
        if owner is not None and owner.liveness() is Liveness.GONE:
            abandoned.append(_release(instance, run, owner, tuple(slots.get(run.run_id, ()))))
    return abandoned


def _slots_by_run(instance: dg.DagsterInstance) -> dict[str, list[tuple[str, str]]]:
    """(pool, step key) of every slot claimed or queued for, by run id."""
    storage = instance.event_log_storage
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if not storage.supports_global_concurrency_limits:
        return found
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        steps = {(s.run_id, s.step_key) for s in info.claimed_slots}
        steps |= {(s.run_id, s.step_key) for s in info.pending_steps}
        for run_id, step_key in sorted(steps):
            found[run_id].append((pool, step_key))
    return found


def _release(
    instance: dg.DagsterInstance, run: dg.DagsterRun, owner: ProcessOwner, slots: tuple[tuple[str, str], ...]
) -> AbandonedRun:
    """Mark ``run`` failed (unless it already ended) and free its slots; the event says why."""
    freed = "; ".join(f"{pool} (step {step})" for pool, step in slots)
    current = instance.get_run_by_id(run.run_id) or run
    marked_failed = not current.is_finished
    if marked_failed:
        instance.report_run_failed(
            current,
            f"The process that executed this run ({owner.describe()}) ended before the run did: it was "
            "killed or crashed. d365-assets marked the run failed"
            f"{f' and freed its pool slots: {freed}' if slots else ''}. Exports it left unloaded stay in "
            "the package folder and are loaded by the next refresh of each entity: run the job again.",
        )
    if slots:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        if not marked_failed:
            instance.report_engine_event(
                f"Freed the pool slots this run still held after its process ({owner.describe()}) "
                f"ended: {freed}.",
                current,
            )
    return AbandonedRun(
        run_id=run.run_id,
        partition=run.tags.get("dagster/partition"),
        owner=owner,
        marked_failed=marked_failed,
        freed_slots=slots,
    )


RECOVERY_SENSOR = "d365_abandoned_runs_sensor"


def build_abandoned_runs_sensor(*, interval_seconds: int = 60) -> dg.SensorDefinition:
    """A sensor (RUNNING with the daemon) that clears runs of dead ``d365-assets demo`` processes.

    So a demo killed and never started again does not hold its pool slots while only the UI, the
    schedules and the daemon are used.
    """

    @dg.sensor(
        name=RECOVERY_SENSOR,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks failed, and frees the pool slots of, runs whose d365-assets process died.",
    )
    def _abandoned_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        cleared = recover_abandoned_runs(context.instance, timeout=10.0)
        for run in cleared:
            context.log.warning(run.describe())
        return dg.SkipReason(f"cleared {len(cleared)} abandoned run(s)" if cleared else "no abandoned runs")

    return _abandoned_runs
