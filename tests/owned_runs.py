"""Processes for the run-recovery tests, started as ``python -m tests.owned_runs <command> ...``.

- ``hold <marker>``: execute in process (as ``d365-assets demo`` does) a one-step job whose step
  claims a ``d365_export`` pool slot, writes ``marker`` and then sleeps until the process is killed.
- ``race <home>...``: for each home, fork two processes that pass a barrier together and open the
  instance there the way the CLI does; prints each home with the racers' exit codes.
- ``run <home>...``: in each home, open the instance and execute a one-step job in the pool.

``defs`` also serves the two jobs as a code location (``dagster dev -m tests.owned_runs``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from d365_assets.defs.assets import EXPORT_POOL
from d365_assets.defs.instance import open_instance, owner_tags

ROOT = Path(__file__).resolve().parents[1]
HOLD_STEP = "hold_export_slot"
STARTUP_TIMEOUT = 60.0
"""Seconds for a Python process that imports Dagster to reach its step on 2 busy cores."""


@dg.op(name=HOLD_STEP, pool=EXPORT_POOL, config_schema={"marker": str})
def _hold(context) -> None:  # no annotation: Dagster checks it while it is still a string
    """Note this process and its parent (under a run launcher, the run worker), then wait."""
    Path(context.op_config["marker"]).write_text(f"{os.getpid()} {os.getppid()}", encoding="utf-8")
    time.sleep(600)


@dg.job(name="hold_export_slot_job")
def hold_job() -> None:
    """One step in the export pool that never finishes on its own."""
    _hold()


@dg.op(name="quick_export", pool=EXPORT_POOL)
def _quick() -> None:
    return None


@dg.job(name="quick_export_job")
def quick_job() -> None:
    """One step in the export pool that finishes at once."""
    _quick()


defs = dg.Definitions(jobs=[hold_job, quick_job])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.05)


def pool_claims(instance: dg.DagsterInstance) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(run id, step key) of the export pool's claimed slots, and of its queued or assigned steps."""
    info = instance.event_log_storage.get_concurrency_info(EXPORT_POOL)
    return (
        {(s.run_id, s.step_key) for s in info.claimed_slots},
        {(s.run_id, s.step_key) for s in info.pending_steps},
    )


def command(*args: str) -> list[str]:
    """The argv that runs this module with ``args``."""
    return [sys.executable, "-m", "tests.owned_runs", *args]


def environment(home: Path) -> dict[str, str]:
    """The environment of such a process: this repository importable, ``DAGSTER_HOME`` at ``home``."""
    return {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}


def _hold_slot(marker: str) -> None:
    instance, _ = open_instance()
    with instance:
        config = {"ops": {HOLD_STEP: {"config": {"marker": marker}}}}
        hold_job.execute_in_process(instance=instance, tags=owner_tags(), run_config=config)


def _race_in(*homes: str) -> None:
    fork = multiprocessing.get_context("fork")  # the racers start with Dagster imported: no head start
    for home in homes:
        os.environ["DAGSTER_HOME"] = home
        barrier = fork.Barrier(2)
        racers = [fork.Process(target=_open_after, args=(barrier,)) for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=120)
        print(home, *(racer.exitcode for racer in racers), flush=True)


def _open_after(barrier: threading.Barrier) -> None:
    barrier.wait(timeout=60)
    instance, _ = open_instance()
    instance.dispose()


def _run_in(*homes: str) -> None:
    for home in homes:
        os.environ["DAGSTER_HOME"] = home
        instance, _ = open_instance()
        with instance:
            result = quick_job.execute_in_process(instance=instance, tags=owner_tags())
            print(home, "SUCCESS" if result.success else "FAILURE", flush=True)


if __name__ == "__main__":
    {"hold": _hold_slot, "race": _race_in, "run": _run_in}[sys.argv[1]](*sys.argv[2:])
