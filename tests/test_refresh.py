"""refresh_entity without Dagster: exports noted before waiting, finished and loaded by the next refresh."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, Fault
from d365_assets.fo import PackageDownloadError
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import RefreshMode
from tests.support.catalog import catalog_entity
from tests.support.refreshing import FEW_RETRIES, refresh_from
from tests.support.tables import source_rows, table_rows

LINES = catalog_entity("SalesOrderLinesV2")


def refresh(emulator: Emulator, tmp_path: Path, **kwargs: object) -> RefreshOutcome:
    return refresh_from(
        emulator,
        tmp_path,
        LINES,
        client_options={"retry": FEW_RETRIES},
        **kwargs,
    )


def notes(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "packages").glob("*/sales_order_lines_v2/USMF/*.json"))


def interrupt_a_delta(emulator: Emulator, tmp_path: Path) -> Path:
    """A full load, business activity, then a delta whose download fails: returns its note."""
    refresh(emulator, tmp_path)
    emulator.advance_activity(1)
    emulator.set_faults(Fault(kind="blob_unavailable", count=-1))
    with pytest.raises(PackageDownloadError):
        refresh(emulator, tmp_path)
    [note] = notes(tmp_path)
    return note


def test_a_delta_whose_download_failed_is_finished_by_the_next_refresh(
    tmp_path: Path, emulator: Emulator
) -> None:
    note = interrupt_a_delta(emulator, tmp_path)
    assert not note.with_suffix(".zip").exists(), "the export is noted before its package arrives"

    emulator.clear_faults()
    emulator.advance_activity(1)
    outcome = refresh(emulator, tmp_path)
    assert [r.execution_id for r in outcome.replayed] == [note.stem]
    assert notes(tmp_path) == []
    loaded = set(table_rows(tmp_path / "warehouse.duckdb", LINES, "USMF"))
    assert set(source_rows(emulator, LINES, "USMF")) <= loaded, "both deltas' changes arrived"


def test_a_delta_whose_package_expired_turns_the_next_refresh_into_a_reconcile(
    tmp_path: Path, emulator: Emulator
) -> None:
    interrupt_a_delta(emulator, tmp_path)
    emulator.stop()
    time.sleep(2.5)  # the noted export's package is now older than the 2 s retention below
    expired = dataclasses.replace(emulator.config, retention_seconds=2.0)
    with Emulator(state_dir=emulator.state_dir, config=expired) as later:
        later.clear_faults()
        outcome = refresh(later, tmp_path)
        assert outcome.mode is RefreshMode.FULL
        assert outcome.replayed == ()
        assert table_rows(tmp_path / "warehouse.duckdb", LINES, "USMF") == source_rows(later, LINES, "USMF")
    assert notes(tmp_path) == []
