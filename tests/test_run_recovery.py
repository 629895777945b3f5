"""Runs executed in our own process: owners that die, the pool slots they held, and the instance's birth."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from d365_assets.defs.assets import EXPORT_POOL
from d365_assets.defs.instance import (
    OWNER_HOST_TAG,
    build_abandoned_runs_sensor,
    open_instance,
    owner_tags,
    recover_abandoned_runs,
)
from d365_assets.process_owner import Liveness, ProcessOwner, process_start
from tests.owned_runs import (
    HOLD_STEP,
    ROOT,
    STARTUP_TIMEOUT,
    command,
    environment,
    pool_claims,
    quick_job,
    wait_for,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGSTER_HOME with the repository's dagster.yaml (pools per op, run monitoring)."""
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", folder / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    return folder


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A child process that sleeps until killed."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_this_process_is_running() -> None:
    owner = ProcessOwner.current()
    assert owner.started, "this platform tells when a process started"
    assert owner.liveness() is Liveness.RUNNING


def test_a_killed_owner_is_gone_before_and_after_it_is_reaped(sleeper: subprocess.Popen[bytes]) -> None:
    owner = ProcessOwner(host=socket.gethostname(), pid=sleeper.pid, started=process_start(sleeper.pid) or "")
    assert owner.liveness() is Liveness.RUNNING
    sleeper.send_signal(signal.SIGKILL)
    wait_for(lambda: owner.liveness() is Liveness.GONE, "the killed, unreaped owner counting as gone", 10)
    sleeper.wait()
    assert owner.liveness() is Liveness.GONE


def test_a_process_that_reuses_the_pid_is_not_the_owner(sleeper: subprocess.Popen[bytes]) -> None:
    earlier = ProcessOwner(host=socket.gethostname(), pid=sleeper.pid, started="an earlier process start")
    assert earlier.liveness() is Liveness.GONE


def test_another_hosts_process_is_not_judged() -> None:
    elsewhere = dataclasses.replace(ProcessOwner.current(), host="elsewhere.invalid")
    assert elsewhere.liveness() is Liveness.UNKNOWN


def killed_while_holding_a_slot(tmp_path: Path, home: Path) -> tuple[dg.DagsterRun, int]:
    """Start a run in its own process, let its step claim an export slot, then SIGKILL the process."""
    marker = tmp_path / "holding"
    process = subprocess.Popen(command("hold", str(marker)), cwd=ROOT, env=environment(home))
    try:
        wait_for(marker.exists, "the step claiming its slot")
    finally:
        process.kill()
        process.wait()
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
    return run, process.pid


@pytest.mark.e2e
@pytest.mark.parametrize("ended_as", [None, dg.DagsterRunStatus.CANCELED], ids=["started", "canceled-in-ui"])
def test_a_killed_run_is_failed_and_its_pool_slot_freed(
    tmp_path: Path, home: Path, ended_as: dg.DagsterRunStatus | None
) -> None:
    """The next open marks the dead owner's run failed (saying why) and frees its slot; others stay."""
    run, pid = killed_while_holding_a_slot(tmp_path, home)
    with dg.DagsterInstance.get() as instance:
        assert run.status is dg.DagsterRunStatus.STARTED
        assert pool_claims(instance)[0] == {(run.run_id, HOLD_STEP)}
        instance.event_log_storage.set_concurrency_slots(EXPORT_POOL, 1)  # a dead claim now blocks all
        if ended_as is dg.DagsterRunStatus.CANCELED:
            instance.report_run_canceled(run, "terminated from the UI")
        live = instance.create_run_for_job(quick_job, tags=owner_tags())
        elsewhere = {**owner_tags(), OWNER_HOST_TAG: "elsewhere.invalid"}
        foreign = instance.create_run_for_job(quick_job, tags=elsewhere)
        dead_owner = {k: v for k, v in run.tags.items() if k.startswith("d365/owner_")}
        never_started = instance.create_run_for_job(quick_job, tags=dead_owner)  # killed before it began
        # Re-execute in the UI copies the parent's tags, owner included, into a run launched elsewhere.
        reexecution = instance.create_run_for_job(
            quick_job, tags=dead_owner, parent_run_id=run.run_id, root_run_id=run.run_id
        )

    instance, abandoned = open_instance()
    with instance:
        cleared = {a.run_id: (a.freed_slots, a.marked_failed, a.owner.pid) for a in abandoned}
        assert cleared == {
            run.run_id: (((EXPORT_POOL, HOLD_STEP),), ended_as is None, pid),
            never_started.run_id: ((), True, pid),
        }
        assert instance.get_run_by_id(never_started.run_id).status is dg.DagsterRunStatus.FAILURE
        after = instance.get_run_by_id(run.run_id)
        assert after is not None
        assert after.status is (ended_as or dg.DagsterRunStatus.FAILURE)
        why = [r.event_log_entry.message for r in instance.get_records_for_run(run.run_id).records]
        assert any(f"pid {pid} on {socket.gethostname()}" in m and EXPORT_POOL in m for m in why), why[-3:]
        assert pool_claims(instance) == (set(), set())
        for untouched in (live, foreign, reexecution):
            assert instance.get_run_by_id(untouched.run_id).status is dg.DagsterRunStatus.NOT_STARTED

        result = quick_job.execute_in_process(instance=instance, tags=owner_tags())
        assert result.success
        assert not [e for e in result.all_events if "blocked by limit" in (e.message or "")]
        assert recover_abandoned_runs(instance) == [], "a second look finds nothing left to clear"


@pytest.mark.e2e
def test_the_sensor_clears_a_dead_demo_run_while_only_the_daemon_runs(tmp_path: Path, home: Path) -> None:
    """A demo killed and never started again: the daemon's sensor frees its slot all the same."""
    run, _pid = killed_while_holding_a_slot(tmp_path, home)
    sensor = build_abandoned_runs_sensor()
    with dg.DagsterInstance.get() as instance:
        assert pool_claims(instance)[0] == {(run.run_id, HOLD_STEP)}
        skipped = sensor(dg.build_sensor_context(instance=instance))
        assert skipped.skip_message == "cleared 1 abandoned run(s)"
        assert instance.get_run_by_id(run.run_id).status is dg.DagsterRunStatus.FAILURE
        assert pool_claims(instance) == (set(), set())
        again = sensor(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "no abandoned runs"


@pytest.mark.e2e
def test_processes_creating_a_fresh_instance_together_leave_it_usable(tmp_path: Path) -> None:
    """Pairs of processes open fresh homes at the same moment; a later run works in every home."""
    homes = [tmp_path / f"home{attempt}" for attempt in range(4)]
    for home in homes:
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    options = {"cwd": ROOT, "env": environment(tmp_path), "capture_output": True, "text": True}
    races = subprocess.run(command("race", *map(str, homes)), timeout=STARTUP_TIMEOUT * 2, **options)
    assert races.stdout.split() == [word for home in homes for word in (str(home), "0", "0")], races.stderr
    later = subprocess.run(command("run", *map(str, homes)), timeout=STARTUP_TIMEOUT * 2, **options)
    assert later.returncode == 0, later.stderr[-2000:]
    assert later.stdout.split() == [word for home in homes for word in (str(home), "SUCCESS")]
