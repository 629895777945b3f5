"""A recurring job's messages against the package API's reconciles, over HTTPS to the emulator.

F&O's messages do not say when they were exported. A delta exported before a reconcile but loaded
after it would bring back the rows F&O deleted in between (deltas carry no deletes) and older
values. So a reconcile first loads what the queue holds, and a message first dequeued before the
reconcile's export was requested is acknowledged without its rows. Here the emulator deletes rows
between the exports, so the table equals F&O's rows only when the order is kept.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from d365_assets.emulator import Emulator, EmulatorConfig
from d365_assets.fo import DequeuedMessage
from d365_assets.refresh import MessageOutcome, RefreshOutcome, ledger_id
from d365_assets.refresh.queue import CLOCK_MARGIN
from d365_assets.schema import RefreshMode
from tests.support.environment import client_for
from tests.support.recurring import (
    ACTIVITY,
    COMPANY,
    ENTITY,
    consume,
    consume_next,
    produce,
    recurring_config,
    recurring_entity,
)
from tests.support.refreshing import refresh_from, spool_in
from tests.support.tables import source_rows, table_rows

HIDDEN = 120.0
"""Seconds a dequeued message stays hidden: long enough that a reconcile meanwhile does not see it."""


def _config(**changes: Any) -> EmulatorConfig:
    """600 sales order headers, rows deleted between exports, dequeued messages hidden for long."""
    return recurring_config(
        rows={ENTITY: 600}, delete_rate=0.08, recurring_visibility_seconds=HIDDEN, **changes
    )


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emulator", _config()) as emulator:
        yield emulator


def _loaded_first_message(emu: Emulator, folder: Path) -> None:
    """The job's first message (every row) loaded and acknowledged: the table equals F&O's rows."""
    produce(emu, 1)
    with client_for(emu) as client:
        assert consume_next(client, folder) is not None
    assert _table(folder) == source_rows(emu, recurring_entity(), COMPANY)


def _delta_dequeued(emu: Emulator) -> tuple[DequeuedMessage, float]:
    """A delta message, exported after business activity and dequeued now (as the sensor does)."""
    emu.advance_activity(1)
    emu.run_recurring_job(ACTIVITY)
    with client_for(emu) as client:
        message = client.recurring.dequeue(ACTIVITY)
    assert message is not None
    dequeued = time.time()
    time.sleep(CLOCK_MARGIN)  # the run that carries it waits (clocks may disagree by this much)
    return message, dequeued


def _consume(emu: Emulator, folder: Path, message: DequeuedMessage, first: float | None) -> MessageOutcome:
    with client_for(emu) as client:
        return consume(client, folder, message, first_dequeued_at=first)


def _reconcile(emu: Emulator, folder: Path) -> RefreshOutcome:
    """Business activity (deletes included), then a package-API full export loaded: a reconcile."""
    emu.advance_activity(3)
    outcome = refresh_from(emu, folder, recurring_entity(), company=COMPANY, mode=RefreshMode.FULL)
    assert outcome.mode is RefreshMode.FULL
    assert outcome.load.rows_deleted > 0  # F&O deleted rows since the first message
    return outcome


def _table(folder: Path) -> list[tuple]:
    return table_rows(folder / "warehouse.duckdb", recurring_entity(), COMPANY)


def _ledger(folder: Path) -> list[tuple[str, str, int]]:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT execution_id, mode, rows_read FROM d365._load_ledger ORDER BY finished_at"
        ).fetchall()


def test_a_message_dequeued_before_a_reconcile_is_acknowledged_without_its_rows(
    emu: Emulator, tmp_path: Path
) -> None:
    _loaded_first_message(emu, tmp_path)
    message, dequeued = _delta_dequeued(emu)  # its run waits while the reconcile holds the table
    _reconcile(emu, tmp_path)
    source = source_rows(emu, recurring_entity(), COMPANY)
    assert _table(tmp_path) == source

    outcome = _consume(emu, tmp_path, message, dequeued)

    assert outcome.superseded
    assert outcome.refresh.load.applied
    assert (outcome.refresh.package_rows, outcome.refresh.load.rows_inserted) == (0, 0)
    assert outcome.refresh.package.size_bytes == 0  # not even downloaded
    assert any("before the full export loaded last was requested" in w for w in outcome.refresh.warnings)
    assert outcome.message_status == "Acked"
    assert emu.recurring_waiting(ACTIVITY) == 0
    assert _table(tmp_path) == source  # nothing deleted came back, nothing older replaced newer
    assert _ledger(tmp_path)[-1] == (ledger_id(message), "delta", 0)


def test_without_its_first_dequeue_an_old_message_would_undo_part_of_the_reconcile(
    emu: Emulator, tmp_path: Path
) -> None:
    """Why the first dequeue matters: the same message, its time unknown, is loaded as it comes."""
    _loaded_first_message(emu, tmp_path)
    message, _ = _delta_dequeued(emu)
    _reconcile(emu, tmp_path)
    source = source_rows(emu, recurring_entity(), COMPANY)

    outcome = _consume(emu, tmp_path, message, None)

    assert not outcome.superseded
    assert outcome.refresh.load.rows_read > 0
    assert set(_table(tmp_path)) - set(source)  # older values again, or rows F&O deleted since


def test_a_reconcile_first_loads_the_messages_waiting_on_the_queue(emu: Emulator, tmp_path: Path) -> None:
    _loaded_first_message(emu, tmp_path)
    emu.advance_activity(1)
    waiting = [emu.run_recurring_job(ACTIVITY)]
    emu.advance_activity(1)
    waiting.append(emu.run_recurring_job(ACTIVITY))

    outcome = _reconcile(emu, tmp_path)

    drained = [f"recurring-{i}" for i in waiting]
    assert [load.execution_id for load in outcome.replayed] == drained
    assert all(load.applied and load.rows_read > 0 for load in outcome.replayed)
    assert [row[0] for row in _ledger(tmp_path)][-3:] == [*drained, outcome.package.execution_id]
    assert emu.recurring_waiting(ACTIVITY) == 0  # each acknowledged after its commit
    assert _table(tmp_path) == source_rows(emu, recurring_entity(), COMPANY)


def test_a_message_dequeued_after_the_reconcile_was_requested_is_loaded(
    emu: Emulator, tmp_path: Path
) -> None:
    _loaded_first_message(emu, tmp_path)
    _reconcile(emu, tmp_path)
    message, dequeued = _delta_dequeued(emu)

    outcome = _consume(emu, tmp_path, message, dequeued)

    assert not outcome.superseded
    assert outcome.refresh.load.rows_read > 0
    assert outcome.refresh.load.rows_updated + outcome.refresh.load.rows_inserted > 0
    assert emu.recurring_waiting(ACTIVITY) == 0
    # Deltas carry no deletes: F&O's rows plus those it deleted since the reconcile.
    table_keys = {row[0] for row in _table(tmp_path)}
    assert {row[0] for row in source_rows(emu, recurring_entity(), COMPANY)} <= table_keys


def test_a_full_load_found_committed_after_a_crash_still_supersedes_older_messages(
    emu: Emulator, tmp_path: Path
) -> None:
    _loaded_first_message(emu, tmp_path)
    message, dequeued = _delta_dequeued(emu)
    full = _reconcile(emu, tmp_path)
    entity = recurring_entity()
    with spool_in(tmp_path).slot(entity.table_name, COMPANY, timeout=5) as slot:
        # As if the reconcile's process died between its commit and forgetting its note.
        (slot.folder / ".last-full-requested").unlink()
        requested = dequeued + CLOCK_MARGIN
        slot.note(execution_id=full.package.execution_id, mode=RefreshMode.FULL, requested_at=requested)

    outcome = _consume(emu, tmp_path, message, dequeued)

    (replayed,) = outcome.refresh.replayed
    assert (replayed.execution_id, replayed.applied) == (full.package.execution_id, False)  # in the ledger
    assert outcome.superseded
    assert _table(tmp_path) == source_rows(emu, entity, COMPANY)


def test_a_reconcile_for_another_company_leaves_the_jobs_queue_alone(emu: Emulator, tmp_path: Path) -> None:
    _loaded_first_message(emu, tmp_path)
    emu.advance_activity(1)
    waiting = emu.run_recurring_job(ACTIVITY)  # the job exports USMF

    outcome = refresh_from(emu, tmp_path, recurring_entity(), company="DEMF", mode=RefreshMode.FULL)

    assert outcome.replayed == ()
    assert emu.recurring_waiting(ACTIVITY) == 1
    assert f"recurring-{waiting}" not in [row[0] for row in _ledger(tmp_path)]


def test_a_reconcile_goes_on_when_the_queue_cannot_be_read(emu: Emulator, tmp_path: Path) -> None:
    unknown = dataclasses.replace(
        recurring_entity(), recurring_activity_id="0badc0de-0000-4000-8000-000000000000"
    )

    outcome = refresh_from(emu, tmp_path, unknown, company=COMPANY, mode=RefreshMode.FULL)

    assert outcome.load.applied
    assert outcome.replayed == ()
    (warning,) = [w for w in outcome.warnings if "could not be read before the full export" in w]
    assert "may bring back older values" in warning


def test_a_partially_succeeded_reconcile_supersedes_no_message(tmp_path: Path) -> None:
    config = _config(outcomes={recurring_entity().reconcile_project: "PartiallySucceeded"})
    with Emulator(tmp_path / "emulator", config) as emu:
        _loaded_first_message(emu, tmp_path)
        message, dequeued = _delta_dequeued(emu)
        emu.advance_activity(1)
        partial = refresh_from(emu, tmp_path, recurring_entity(), company=COMPANY, mode=RefreshMode.FULL)
        assert partial.mode is RefreshMode.DELTA  # rows left out: loaded as an upsert, removing nothing

        outcome = _consume(emu, tmp_path, message, dequeued)

    assert not outcome.superseded
    assert outcome.refresh.load.rows_read > 0
