"""Exports F&O no longer knows: its job history clean-up (7 days by default) and package retention.

A refresh that dies after F&O accepted a delta leaves the export noted. When the next refresh comes
after F&O deleted the execution's history or its package, F&O answers "not found" (past the grace),
a package URL that stays empty, an error, or a URL whose blob is gone; which of these is not
documented. Each time the lost delta turns that refresh into a reconcile, and no refresh is blocked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from d365_assets.emulator import Emulator, EmulatorConfig, Fault
from d365_assets.fo import ExportTimeoutError, PackageDownloadError
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import RefreshMode
from tests.support.catalog import catalog_entity
from tests.support.environment import QUICK_LIFECYCLE, TEST_ROWS
from tests.support.refreshing import FEW_RETRIES, refresh_from
from tests.support.tables import source_rows, table_rows

LINES = catalog_entity("SalesOrderLinesV2")
KEPT = 1.5
"""Seconds the emulator keeps job history (or packages) in these tests, instead of 7 days."""

ANSWERS: dict[str, tuple[dict[str, Any], dict[str, float], str]] = {
    # F&O's answer once it forgot: (emulator switches, client polling, how the client tells it was gone)
    "not found, asked once for an old note": (
        {"history_retention_seconds": KEPT},
        {"not_found_grace": 0.5},
        "GetExecutionSummaryStatus failed with HTTP 400",
    ),
    "not found past the grace": (
        {"history_retention_seconds": KEPT},
        {"not_found_grace": 1.0},
        "still does not know execution",
    ),
    "package URL stays empty": (
        {"retention_seconds": KEPT, "expired_package_url": "empty"},
        {"url_timeout": 1.0},
        "did not publish a package URL",
    ),
    "package URL is an error": (
        {"retention_seconds": KEPT, "expired_package_url": "error"},
        {},
        "GetExportedPackageUrl failed with HTTP 400",
    ),
    "package blob is gone": (
        {"retention_seconds": KEPT, "expired_package_url": "url"},
        {},
        "was not found (HTTP 404)",
    ),
}


@pytest.fixture(params=list(ANSWERS))
def answer(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def forgetful(tmp_path: Path, answer: str) -> Iterator[Emulator]:
    """An emulator that forgets executions (or packages) after :data:`KEPT` seconds, as ``answer`` says."""
    config = EmulatorConfig(rows=TEST_ROWS, **QUICK_LIFECYCLE, **ANSWERS[answer][0])
    with Emulator(tmp_path / "emulator", config) as emulator:
        yield emulator


def refresh(emulator: Emulator, tmp_path: Path, answer: str, **client_options: Any) -> RefreshOutcome:
    """One refresh of the sales order lines of USMF, polling as ``answer`` needs (and ``client_options``)."""
    options = {
        "retry": FEW_RETRIES,
        **ANSWERS[answer][1],
        **client_options,
    }
    return refresh_from(emulator, tmp_path, LINES, client_options=options)


def notes(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "packages").glob("*/sales_order_lines_v2/USMF/*.json"))


def test_a_delta_fo_no_longer_knows_becomes_a_reconcile(
    tmp_path: Path, forgetful: Emulator, answer: str
) -> None:
    emulator = forgetful
    refresh(emulator, tmp_path, answer)
    emulator.advance_activity(1)
    emulator.set_faults(Fault(kind="blob_unavailable", count=-1))
    with pytest.raises(PackageDownloadError):
        refresh(emulator, tmp_path, answer)  # F&O moved its watermark; the delta is noted, not loaded
    [lost] = notes(tmp_path)
    emulator.clear_faults()
    emulator.advance_activity(1)
    time.sleep(KEPT + 0.2)  # F&O cleans up: the noted execution (or its package) is gone
    if answer == "not found past the grace":
        os.utime(lost)  # noted just now, as far as the client can tell: it waits out the grace first

    outcome = refresh(emulator, tmp_path, answer)
    assert outcome.mode is RefreshMode.FULL, "the lost delta makes this refresh a reconcile"
    assert outcome.replayed == ()
    gone, reconcile = outcome.warnings
    assert lost.stem in gone
    assert "can no longer give" in gone
    assert ANSWERS[answer][2] in gone
    assert reconcile == f"reloading in full: delta {lost.stem} was lost"
    assert table_rows(tmp_path / "warehouse.duckdb", LINES, "USMF") == source_rows(emulator, LINES, "USMF")
    assert notes(tmp_path) == []

    emulator.advance_activity(1)
    later = refresh(emulator, tmp_path, answer)
    assert (later.mode, later.warnings) == (RefreshMode.DELTA, ()), "later refreshes are not blocked"
    loaded = set(table_rows(tmp_path / "warehouse.duckdb", LINES, "USMF"))
    assert set(source_rows(emulator, LINES, "USMF")) <= loaded


def test_an_export_fo_is_still_running_stays_noted(tmp_path: Path, emulator: Emulator) -> None:
    answer = "package blob is gone"  # any: the emulator here forgets nothing
    refresh(emulator, tmp_path, answer)
    emulator.advance_activity(1)
    emulator.set_faults(Fault(kind="never_finish", project=LINES.data_project))
    with pytest.raises(ExportTimeoutError):
        refresh(emulator, tmp_path, answer, poll_timeout=1.0)
    [running] = notes(tmp_path)
    with pytest.raises(ExportTimeoutError, match=running.stem):
        refresh(emulator, tmp_path, answer, poll_timeout=1.0)
    assert notes(tmp_path) == [running], "F&O still runs it: its delta is not given up"
