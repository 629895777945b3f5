"""Messages of a recurring export job loaded into DuckDB, over HTTPS to the emulator, exactly once.

Every fault the emulator can inject into the recurring integrations API has its outcome asserted
here: an ack failing once or for good, a message delivered twice, a message without a file, a
download that drops once or every time, and a process killed between the commit and the ack.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from d365_assets.catalog import CatalogError, EntityConfig
from d365_assets.emulator import Emulator, EmulatorConfig, Fault, RecurringJob
from d365_assets.fo import PackageDownloadError
from d365_assets.refresh import AckError, consume_message, ledger_id
from d365_assets.schema import RefreshMode
from d365_assets.warehouse import LoadGuard, RemovalHeldError
from tests.support.catalog import catalog_entity
from tests.support.environment import client_for
from tests.support.recurring import (
    ACTIVITY,
    COMPANY,
    QUICK_VISIBILITY,
    consume_next,
    produce,
    recurring_config,
    recurring_entity,
)
from tests.support.refreshing import FEW_RETRIES, spool_in, warehouse_in
from tests.support.tables import source_rows, table_rows

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emulator", recurring_config()) as emulator:
        yield emulator


def ledger(folder: Path) -> list[tuple[str, str, int]]:
    """The ledger's (execution id, mode, rows read), in load order."""
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT execution_id, mode, rows_read FROM d365._load_ledger ORDER BY finished_at"
        ).fetchall()


def test_a_full_then_two_deltas_load_in_queue_order(emu: Emulator, tmp_path: Path) -> None:
    ids = produce(emu, 3)
    entity = recurring_entity()
    with client_for(emu) as client:
        outcomes = [consume_next(client, tmp_path) for _ in range(3)]
        assert consume_next(client, tmp_path) is None  # 204: the queue is empty

    assert [o.message.correlation_id for o in outcomes if o] == ids
    first, *deltas = [o for o in outcomes if o]
    assert first.refresh.package_rows == 60
    assert first.refresh.load.rows_inserted == 60
    assert all(0 < o.refresh.package_rows < 60 for o in deltas)  # only what changed since the last one
    assert {o.message_status for o in outcomes if o} == {"Acked"}
    assert [row[0] for row in ledger(tmp_path)] == [f"recurring-{i}" for i in ids]
    assert table_rows(tmp_path / "warehouse.duckdb", entity, COMPANY) == source_rows(emu, entity, COMPANY)
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_an_ack_failing_once_is_sent_again(emu: Emulator, tmp_path: Path) -> None:
    (message_id,) = produce(emu, 1)
    emu.set_faults(Fault("ack_fail"))
    with client_for(emu) as client:
        outcome = consume_next(client, tmp_path)
    assert outcome is not None
    assert outcome.message_status == "Acked"
    acks = [r for r in emu.requests if r.path.startswith("/api/connector/ack/")]
    assert len(acks) == 2  # the 500, then the retry
    assert ledger(tmp_path) == [(f"recurring-{message_id}", "delta", 60)]
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_an_ack_refused_fails_clearly_and_the_message_coming_back_is_not_loaded_again(
    emu: Emulator, tmp_path: Path
) -> None:
    (message_id,) = produce(emu, 1)
    emu.set_faults(Fault("ack_fail", count=-1))
    with client_for(emu, retry=FEW_RETRIES) as client:
        with pytest.raises(AckError) as refused:
            consume_next(client, tmp_path)
        assert f"loaded and committed as execution recurring-{message_id}" in str(refused.value)
        assert "visibility timeout" in str(refused.value)
        emu.clear_faults()
        assert client.recurring.dequeue(ACTIVITY) is None  # hidden until the visibility timeout
        time.sleep(QUICK_VISIBILITY + 0.2)
        again = consume_next(client, tmp_path)
    assert again is not None
    assert again.message.redelivered
    assert again.already_applied
    assert again.refresh.load.applied is False
    assert again.message_status == "Acked"
    assert ledger(tmp_path) == [(f"recurring-{message_id}", "delta", 60)]
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_a_message_delivered_twice_is_loaded_once(emu: Emulator, tmp_path: Path) -> None:
    produce(emu, 1)
    emu.set_faults(Fault("deliver_twice"))
    with client_for(emu) as client:
        first = consume_next(client, tmp_path)
        second = consume_next(client, tmp_path)
        assert consume_next(client, tmp_path) is None
    assert first is not None
    assert second is not None
    assert second.message.correlation_id == first.message.correlation_id
    assert second.message.delivery_key != first.message.delivery_key  # a new run key for the sensor
    assert (first.already_applied, second.already_applied) == (False, True)
    assert len(ledger(tmp_path)) == 1
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_a_message_without_a_file_loads_no_rows(emu: Emulator, tmp_path: Path) -> None:
    produce(emu, 1)
    emu.set_faults(Fault("missing_file"))
    emu.advance_activity(1)
    (empty_id,) = produce(emu, 1)
    with client_for(emu) as client:
        full = consume_next(client, tmp_path)
        empty = consume_next(client, tmp_path)
    assert full is not None
    assert empty is not None
    assert not empty.message.file_exists
    assert empty.refresh.package_rows == 0
    assert empty.refresh.mode is RefreshMode.DELTA
    assert empty.refresh.load.company_rows == 60  # nothing removed
    assert any("no file" in warning for warning in empty.refresh.warnings)
    assert ledger(tmp_path)[-1] == (f"recurring-{empty_id}", "delta", 0)
    assert len([r for r in emu.requests if r.path.startswith("/api/connector/download/")]) == 1
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_a_download_dropping_once_is_fetched_again(emu: Emulator, tmp_path: Path) -> None:
    produce(emu, 1)
    emu.set_faults(Fault("download_drop", after_bytes=1000))
    with client_for(emu) as client:
        outcome = consume_next(client, tmp_path)
    assert outcome is not None
    assert outcome.refresh.package_rows == 60
    assert len([r for r in emu.requests if r.path.startswith("/api/connector/download/")]) == 2
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_a_download_that_keeps_dropping_changes_nothing_and_keeps_the_message(
    emu: Emulator, tmp_path: Path
) -> None:
    produce(emu, 2)
    with client_for(emu, retry=FEW_RETRIES) as client:
        consume_next(client, tmp_path)
        before = table_rows(tmp_path / "warehouse.duckdb", recurring_entity(), COMPANY)
        emu.set_faults(Fault("download_drop", count=-1))
        with pytest.raises(PackageDownloadError, match="failed after 2 attempts"):
            consume_next(client, tmp_path)
        emu.clear_faults()
        assert table_rows(tmp_path / "warehouse.duckdb", recurring_entity(), COMPANY) == before
        assert emu.recurring_waiting(ACTIVITY) == 1  # not acknowledged: it comes back
        time.sleep(QUICK_VISIBILITY + 0.2)
        again = consume_next(client, tmp_path)
    assert again is not None
    assert again.message.redelivered
    assert not again.already_applied
    assert len(ledger(tmp_path)) == 2


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from d365_assets.fo import ClientSecretCredential, D365Client
    from tests.support.recurring import consume_next

    url, authority, tenant, client_id, secret, ca, folder = sys.argv[1:]
    credential = ClientSecretCredential(tenant, client_id, secret, authority_host=authority)
    with D365Client(environment_url=url, credential=credential, ca_bundle=ca) as client:
        consume_next(client, Path(folder))
    """
)


def test_a_process_killed_between_commit_and_ack_loads_the_message_once(
    emu: Emulator, tmp_path: Path
) -> None:
    (message_id,) = produce(emu, 1)
    emu.set_faults(Fault("ack_fail", seconds=60))  # the ack hangs: the process is killed meanwhile
    arguments = [emu.environment_url, emu.authority_host, emu.tenant_id, emu.client_id, emu.client_secret]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *arguments, str(emu.ca_bundle), str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        committed = _wait_for_ledger(tmp_path, child)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        child.kill()
    assert committed == [(f"recurring-{message_id}", "delta", 60)]
    assert emu.recurring_waiting(ACTIVITY) == 1  # never acknowledged

    time.sleep(QUICK_VISIBILITY + 0.2)
    with client_for(emu) as client:
        again = consume_next(client, tmp_path)
    assert again is not None
    assert again.message.correlation_id == message_id
    assert again.already_applied
    assert again.message_status == "Acked"
    assert ledger(tmp_path) == committed
    entity = recurring_entity()
    assert table_rows(tmp_path / "warehouse.duckdb", entity, COMPANY) == source_rows(emu, entity, COMPANY)
    assert emu.recurring_waiting(ACTIVITY) == 0


def _wait_for_ledger(folder: Path, child: subprocess.Popen, timeout: float = 30.0) -> list:
    """The ledger once the child committed its load (it then waits on the hanging ack)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.poll() is None, "the child ended before it was killed"
        try:
            rows = ledger(folder)
        except duckdb.Error:
            rows = []  # not created yet, or the child holds the file
        if rows:
            return rows
        time.sleep(0.1)
    raise AssertionError("the child did not commit its load in time")


def test_the_ledger_id_of_a_message_cannot_be_a_package_api_execution_id(emu: Emulator) -> None:
    produce(emu, 1)
    with client_for(emu) as client:
        message = client.recurring.dequeue(ACTIVITY)
    assert message is not None
    assert ledger_id(message) == f"recurring-{message.correlation_id}"


FULL_JOB = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def _full_job(*, delete_rate: float) -> tuple[EmulatorConfig, EntityConfig]:
    """An emulator with a recurring job exporting CustomersV3 of DEMF in full, and its catalog entity."""
    jobs = (RecurringJob(FULL_JOB, "D365A-CustomersV3", "DEMF"),)
    config = recurring_config(recurring_jobs=jobs, rows={"CustomersV3": 40}, delete_rate=delete_rate)
    entity = dataclasses.replace(
        catalog_entity("CustomersV3"), recurring_activity_id=FULL_JOB, recurring_company="DEMF"
    )
    return config, entity


def test_a_full_entity_replaces_the_company_with_each_message(tmp_path: Path) -> None:
    config, entity = _full_job(delete_rate=0.1)
    folder = tmp_path / "warehouse"
    with Emulator(tmp_path / "emulator", config) as emu, client_for(emu) as client:
        emu.run_recurring_job(FULL_JOB)
        emu.advance_activity(3)
        emu.run_recurring_job(FULL_JOB)
        outcomes = []
        while (message := client.recurring.dequeue(FULL_JOB)) is not None:
            outcomes.append(
                consume_message(
                    entity=entity,
                    message=message,
                    client=client,
                    warehouse=warehouse_in(folder),
                    spool=spool_in(folder),
                )
            )
        expected = source_rows(emu, entity, "DEMF")
    first, second = outcomes
    assert first.refresh.mode is RefreshMode.FULL
    assert second.refresh.load.rows_deleted > 0  # rows F&O deleted meanwhile are gone
    assert second.refresh.fo_row_count == second.refresh.load.company_rows  # F&O's own $count agrees
    assert table_rows(folder / "warehouse.duckdb", entity, "DEMF") == expected
    assert [mode for _, mode, _ in ledger(folder)] == ["full", "full"]


def test_a_message_of_another_job_is_refused(emu: Emulator, tmp_path: Path) -> None:
    produce(emu, 1)
    other = dataclasses.replace(recurring_entity(), recurring_activity_id=FULL_JOB)
    with client_for(emu) as client:
        message = client.recurring.dequeue(ACTIVITY)
        with pytest.raises(CatalogError, match="nothing was loaded"):
            consume_message(
                entity=other,
                message=message,
                client=client,
                warehouse=warehouse_in(tmp_path),
                spool=spool_in(tmp_path),
            )
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_full_message_removing_most_rows_is_held_and_not_acknowledged(tmp_path: Path) -> None:
    config, entity = _full_job(delete_rate=0.5)
    folder = tmp_path / "warehouse"

    def consume(client, **options):
        message = client.recurring.dequeue(FULL_JOB)
        return consume_message(
            entity=entity,
            message=message,
            client=client,
            warehouse=warehouse_in(folder),
            spool=spool_in(folder),
            **options,
        )

    with Emulator(tmp_path / "emulator", config) as emu, client_for(emu) as client:
        emu.run_recurring_job(FULL_JOB)
        consume(client)
        before = table_rows(folder / "warehouse.duckdb", entity, "DEMF")
        emu.advance_activity(3)
        emu.run_recurring_job(FULL_JOB)
        with pytest.raises(RemovalHeldError):
            consume(client)
        assert table_rows(folder / "warehouse.duckdb", entity, "DEMF") == before
        assert len(ledger(folder)) == 1
        assert emu.recurring_waiting(FULL_JOB) == 1  # not acknowledged: it comes back
        time.sleep(QUICK_VISIBILITY + 0.2)
        accepted = consume(client, guard=LoadGuard(accept_removal=True))
        expected = source_rows(emu, entity, "DEMF")
        assert emu.recurring_waiting(FULL_JOB) == 0
    assert accepted.refresh.load.rows_deleted > len(before) // 2
    assert table_rows(folder / "warehouse.duckdb", entity, "DEMF") == expected
