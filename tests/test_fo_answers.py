"""A refresh against F&O's answers where F&O's behaviour is not known for sure: rows right, or a clear
error, and never a lost delta.

Each test switches the emulator (over HTTPS, real msal) to one answer: a synchronous ExportToPackage
that outlasts the client's timeout, a lost answer met by each way of refusing a known execution id,
an export above DMF's size limit, a Canceled or Unknown delta, a PartiallySucceeded export; under
both ways the change-tracking watermark may move (when an export is accepted, or when it succeeds).
After the fault, a later refresh brings the table equal to the emulator's source rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, EmulatorConfig, Fault
from d365_assets.fo import ApiError, ExportFailedError
from d365_assets.refresh import RefreshOutcome, refresh_entity
from d365_assets.schema import RefreshMode
from d365_assets.spool import PackageSpool
from d365_assets.warehouse import Warehouse
from tests.support.catalog import catalog_entity
from tests.support.environment import QUICK_LIFECYCLE, TEST_ROWS, client_for
from tests.support.refreshing import FEW_RETRIES, refresh_from
from tests.support.tables import source_rows, table_rows

LINES = catalog_entity("SalesOrderLinesV2")
DELTA_PROJECT, FULL_PROJECT = LINES.data_project, LINES.reconcile_project
WATERMARK_MOVES = ["succeeded", "accepted"]


@contextmanager
def emulator(state: Path, **settings: object) -> Iterator[Emulator]:
    """The test's F&O (its state in ``state``), switched by ``settings`` (``EmulatorConfig`` fields).

    Its business activity inserts and updates but deletes nothing (a delta never carries deletes), so
    after any refresh the table equals F&O's rows exactly when no change was lost.
    """
    defaults = {"rows": TEST_ROWS, **QUICK_LIFECYCLE, "delete_rate": 0.0}
    config = EmulatorConfig(**{**defaults, **settings})  # type: ignore[arg-type]
    with Emulator(state, config) as emu:
        yield emu


def refresh(emu: Emulator, tmp_path: Path, **client_options: object) -> RefreshOutcome:
    return refresh_from(
        emu,
        tmp_path,
        LINES,
        client_options={
            "retry": FEW_RETRIES,
            **client_options,
        },
    )


def loaded(tmp_path: Path) -> list[tuple]:
    return table_rows(tmp_path / "warehouse.duckdb", LINES, "USMF")


def exports_sent(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.origin == "fo" and r.path.endswith(".ExportToPackage"))


def assert_whole(emu: Emulator, tmp_path: Path) -> None:
    """The table holds exactly F&O's rows: no delta was lost."""
    assert loaded(tmp_path) == source_rows(emu, LINES, "USMF")


# -- 1. starting an export never depends on F&O's wording ---------------------------------------------


def test_a_synchronous_export_that_outlasts_the_timeout_is_not_sent_twice(tmp_path: Path) -> None:
    with emulator(tmp_path / "fo", export_synchronous=True, executing_seconds=1.2) as emu:
        refresh(emu, tmp_path, timeout=0.5)
        emu.advance_activity(1)
        emu.clear_requests()
        outcome = refresh(emu, tmp_path, timeout=0.5)  # the delta: ExportToPackage times out again
        assert outcome.mode is RefreshMode.DELTA
        assert exports_sent(emu) == 1
        assert_whole(emu, tmp_path)


@pytest.mark.parametrize("answer", ["already_exists", "record_exists", "export_failed", "bare_500"])
def test_a_lost_answer_then_any_refusal_of_the_known_id_loads_the_delta(tmp_path: Path, answer: str) -> None:
    with emulator(tmp_path / "fo", duplicate_id_answer=answer, not_visible_seconds=0.4) as emu:
        refresh(emu, tmp_path)
        emu.advance_activity(1)
        emu.clear_requests()
        emu.set_faults(Fault("lost_response", actions=("ExportToPackage",)))
        outcome = refresh(emu, tmp_path)
        assert outcome.mode is RefreshMode.DELTA
        assert outcome.load.rows_inserted + outcome.load.rows_updated > 0
        assert exports_sent(emu) == 2  # the one re-send, refused: the status settled it
        assert_whole(emu, tmp_path)


@pytest.mark.parametrize("moves", WATERMARK_MOVES)
def test_a_delta_start_f_and_o_never_confirms_is_made_good_by_a_reconcile(tmp_path: Path, moves: str) -> None:
    with emulator(tmp_path / "fo", watermark_moves=moves) as emu:
        refresh(emu, tmp_path)
        emu.advance_activity(1)
        emu.set_faults(
            Fault("lost_response", count=2, actions=("ExportToPackage",)),
            Fault("status_not_found", count=-1),
        )
        with pytest.raises(ApiError) as info:
            refresh(emu, tmp_path, not_found_grace=0.5)
        assert info.value.unanswered
        assert "Job history" in str(info.value)
        emu.clear_faults()  # F&O ran the unconfirmed export: its changes never arrive as a delta
        outcome = refresh(emu, tmp_path)
        assert outcome.mode is RefreshMode.FULL
        assert_whole(emu, tmp_path)


# -- 6. a file above DMF's size limit -------------------------------------------------------------


@pytest.mark.parametrize("moves", WATERMARK_MOVES)
def test_an_export_above_the_size_limit_names_the_limit_and_loses_no_delta(
    tmp_path: Path, moves: str
) -> None:
    with emulator(tmp_path / "fo", watermark_moves=moves) as emu:
        refresh(emu, tmp_path)
        before = loaded(tmp_path)
        emu.advance_activity(1)
    with emulator(tmp_path / "fo", watermark_moves=moves, export_size_limit_bytes=2000) as emu:
        with pytest.raises(ExportFailedError) as info:
            refresh(emu, tmp_path)
        text = str(info.value)
        assert info.value.status == "Failed"
        assert "2,000 bytes" in text  # F&O's own report
        assert "256 MB" in text
        assert "5 GB" in text
        assert "Azure Storage" in text
        assert "Data management > Framework parameters" in text
        assert loaded(tmp_path) == before
    with emulator(tmp_path / "fo", watermark_moves=moves) as emu:  # the limit lifted
        outcome = refresh(emu, tmp_path)
        assert outcome.mode is RefreshMode.FULL
        assert_whole(emu, tmp_path)


# -- 8. change tracking detail: Canceled, Unknown, PartiallySucceeded -------------------------------


@pytest.mark.parametrize("moves", WATERMARK_MOVES)
@pytest.mark.parametrize("status", ["Canceled", "Unknown"])
def test_a_canceled_or_unknown_delta_is_a_clear_error_and_no_delta_is_lost(
    tmp_path: Path, status: str, moves: str
) -> None:
    with emulator(tmp_path / "fo", watermark_moves=moves) as emu:
        refresh(emu, tmp_path)
        emu.advance_activity(1)
        emu.set_faults(Fault("end_as", status=status, project=DELTA_PROJECT))
        with pytest.raises(ExportFailedError) as info:
            refresh(emu, tmp_path)
        assert info.value.status == status
        assert f"ended {status}" in str(info.value)
        assert info.value.execution_id in str(info.value)
        assert emu.watermark(DELTA_PROJECT, "USMF") == (1 if moves == "accepted" else 0)
        emu.advance_activity(1)
        outcome = refresh(emu, tmp_path)
        assert outcome.mode is RefreshMode.FULL  # the lost delta's changes come back in full
        assert_whole(emu, tmp_path)


def test_a_partially_succeeded_delta_is_loaded_and_the_next_refresh_reloads_in_full(tmp_path: Path) -> None:
    with emulator(tmp_path / "fo", outcomes={DELTA_PROJECT: "PartiallySucceeded"}) as emu:
        first = refresh(emu, tmp_path)  # the first export of a delta project holds every row
        source = source_rows(emu, LINES, "USMF")
        assert first.package.warnings == [
            "Entity Sales order lines V2: 2 record(s) could not be exported and are not in the package."
        ]
        assert first.package_rows == len(source) - 2
        assert set(loaded(tmp_path)) < set(source)
        assert first.reconcile_reason is not None
        assert "partially succeeded" in first.reconcile_reason
        emu.advance_activity(1)
        second = refresh(emu, tmp_path)
        assert second.mode is RefreshMode.FULL
        assert second.reconcile_reason is None
        assert_whole(emu, tmp_path)


def test_a_partially_succeeded_full_export_removes_no_rows(tmp_path: Path) -> None:
    with emulator(tmp_path / "fo", outcomes={FULL_PROJECT: "PartiallySucceeded"}) as emu:
        refresh(emu, tmp_path)
        assert_whole(emu, tmp_path)
        with client_for(emu) as client:
            outcome = refresh_entity(
                entity=LINES,
                company="USMF",
                client=client,
                warehouse=Warehouse(tmp_path / "warehouse.duckdb"),
                spool=PackageSpool(tmp_path / "packages", scope="test"),
                mode=RefreshMode.FULL,
            )
        assert outcome.package_rows == len(source_rows(emu, LINES, "USMF")) - 2
        assert outcome.mode is RefreshMode.DELTA  # applied as an upsert: the 2 missing rows stay
        assert outcome.load.rows_deleted == 0
        assert outcome.reconcile_reason is not None
        assert_whole(emu, tmp_path)


def test_a_partially_succeeded_full_export_downloaded_before_a_crash_removes_no_rows(tmp_path: Path) -> None:
    with emulator(tmp_path / "fo", outcomes={FULL_PROJECT: "PartiallySucceeded"}) as emu:
        refresh(emu, tmp_path)
        spool = PackageSpool(tmp_path / "packages", scope="test")
        with client_for(emu) as client, spool.slot(LINES.table_name, "USMF", timeout=5) as slot:
            execution_id = client.export_to_package(data_project=FULL_PROJECT, legal_entity="USMF")
            export = slot.note(execution_id=execution_id, mode=RefreshMode.FULL)
            client.complete_export(execution_id=execution_id, destination=export.path)
            # The run died here: before it noted the export as partial.

        outcome = refresh(emu, tmp_path)

        (replayed,) = outcome.replayed
        assert (replayed.execution_id, replayed.mode) == (execution_id, RefreshMode.DELTA)
        assert replayed.rows_deleted == 0  # an upsert: the rows F&O failed to export stay
        assert outcome.reconcile_reason is not None
        assert_whole(emu, tmp_path)
