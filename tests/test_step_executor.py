"""Step processes end with their run process: the step executor's forkserver ties every process it forks.

A small program plays the run process: it starts a forkserver (preloading what the step executor
preloads, or nothing), forks a "step" that sleeps, and is then SIGKILLed as a killed demo would be.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d365_assets.defs.executor import STEP_PRELOAD
from d365_assets.process_owner import Liveness, ProcessOwner, process_start
from tests.owned_runs import wait_for

RUN_PROCESS = """
import multiprocessing, sys, time

def step():
    time.sleep(120)

if __name__ == "__main__":
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(sys.argv[1:])
    process = context.Process(target=step)
    process.start()
    print(process.pid, flush=True)
    time.sleep(120)
"""
SETTLE_SECONDS = 3.0
"""How long an untied step is watched after its run process died, to see it live on."""


def start_run_process(tmp_path: Path, preload: list[str]) -> tuple[subprocess.Popen[str], ProcessOwner]:
    """The run process and its step (as host, PID and start, so a reused PID is not mistaken for it)."""
    script = tmp_path / "run_process.py"
    script.write_text(RUN_PROCESS, encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script), *preload], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    pid = int(process.stdout.readline())
    step = ProcessOwner(host=socket.gethostname(), pid=pid, started=process_start(pid) or "")
    assert step.liveness() is Liveness.RUNNING
    return process, step


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_step_dies_with_its_run_process(tmp_path: Path) -> None:
    process, step = start_run_process(tmp_path, list(STEP_PRELOAD[:1]))
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_for(lambda: step.liveness() is Liveness.GONE, "the step ending with its run process", 15)


def test_without_the_tie_a_step_outlives_its_run_process(tmp_path: Path) -> None:
    """What Dagster does alone: the step keeps running (so the tie above is what ends it)."""
    process, step = start_run_process(tmp_path, [])
    try:
        process.send_signal(signal.SIGKILL)
        process.wait()
        time.sleep(SETTLE_SECONDS)
        assert step.liveness() is Liveness.RUNNING
    finally:
        if step.liveness() is Liveness.RUNNING:
            os.kill(step.pid, signal.SIGKILL)
