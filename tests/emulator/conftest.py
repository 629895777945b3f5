"""Fixtures for the emulator tests: a small, fast emulator and an HTTPS client that trusts its CA."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:  # allow running pytest without installing the project
    sys.path.insert(0, str(_REPO))

from d365_assets.emulator import Emulator, EmulatorConfig  # noqa: E402

from .helpers import FoClient  # noqa: E402

SMALL_ROWS = {
    "CustomersV3": 60,
    "VendorsV2": 40,
    "ReleasedProductsV2": 50,
    "SalesOrderHeadersV2": 200,
    "SalesOrderLinesV2": 400,
    "PurchaseOrderHeadersV2": 100,
    "PurchaseOrderLinesV2": 200,
    "MainAccounts": 60,
    "GeneralJournalAccountEntries": 1000,
}

FAST = {
    "not_visible_seconds": 0.05,
    "not_run_seconds": 0.05,
    "executing_seconds": 0.05,
    "package_url_delay_seconds": 0.05,
}


def small_config(**overrides: object) -> EmulatorConfig:
    """A quick emulator configuration for tests; keyword arguments override fields."""
    fields: dict[str, object] = {"rows": SMALL_ROWS, **FAST, **overrides}
    return EmulatorConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A fresh emulator state directory."""
    return tmp_path / "emulator-state"


@pytest.fixture
def emulator(state_dir: Path) -> Iterator[Emulator]:
    """A started emulator with small row counts and fast execution timings."""
    with Emulator(state_dir, small_config()) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[FoClient]:
    """A client of ``emulator`` (plain httpx, CA trusted explicitly)."""
    with FoClient(emulator) as fo:
        yield fo
