"""Processes for the run-recovery tests, started as ``python -m tests.owned_runs <command> ...``.

- ``hold <marker>``: execute in process (as ``d365-assets demo`` does) a one-step job whose step
  claims a ``d365_export`` pool slot, writes ``marker`` and then sleeps until the process is killed.
- ``race <home>...``: for each home, fork two processes that pass a barrier together and open the
  instance there the way the CLI does; prints each home with the racers' exit codes.
- ``run <home>...``: in each home, open the instance and execute a one-step job in the pool.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import dagster as dg

from d365_assets.defs.assets import EXPORT_POOL
from d365_assets.defs.instance import open_instance, owner_tags

ROOT = Path(__file__).resolve().parents[1]
HOLD_STEP = "hold_export_slot"


@dg.op(name=HOLD_STEP, pool=EXPORT_POOL, config_schema={"marker": str})
def _hold(context) -> None:  # no annotation: Dagster checks it while it is still a string
    Path(context.op_config["marker"]).write_text(str(os.getpid()), encoding="utf-8")
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
