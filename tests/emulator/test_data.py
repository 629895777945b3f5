"""The data generator: deterministic per seed, realistic values, activity with wall-clock rounds."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, EmulatorConfig
from tests.support.catalog import shipped_entry

from .helpers import small_config


def test_same_seed_same_data_and_typed_values(tmp_path: Path) -> None:
    a = Emulator(tmp_path / "a", small_config(seed=7))
    b = Emulator(tmp_path / "b", small_config(seed=7))
    c = Emulator(tmp_path / "c", small_config(seed=8))
    for entity in ("CustomersV3", "PurchaseOrderLinesV2"):
        assert a.source_rows(entity, "USMF") == b.source_rows(entity, "USMF")
        assert a.source_rows(entity, "USMF") != c.source_rows(entity, "USMF")
    rows = a.source_rows("Customers V3", "USMF")  # the DMF label works too
    assert list(rows[0]) == list(shipped_entry("CustomersV3")["columns"])
    assert rows[0]["CUSTOMERACCOUNT"] == "US-001"
    assert a.source_rows("CustomersV3", "DEMF")[0]["CUSTOMERACCOUNT"] == "DE-001"
    limit = rows[0]["CREDITLIMIT"]
    assert isinstance(limit, Decimal)
    assert limit.as_tuple().exponent == -6
    assert isinstance(rows[0]["ISONETIMECUSTOMER"], bool)
    lines = a.source_rows("PurchaseOrderLinesV2", "USMF")
    orders = {r["PURCHASEORDERNUMBER"] for r in a.source_rows("PurchaseOrderHeadersV2", "USMF")}
    assert {r["PURCHASEORDERNUMBER"] for r in lines} <= orders
    with pytest.raises(ValueError, match="company-specific"):
        a.source_rows("CustomersV3", None)


def test_unknown_entity_in_rows_is_rejected() -> None:
    with pytest.raises(KeyError):
        EmulatorConfig(rows={"NoSuchEntity": 1})


def test_wall_clock_activity(state_dir: Path) -> None:
    emu = Emulator(state_dir, small_config(activity_interval_seconds=0.2))
    start = emu.current_round()
    assert start <= 2, "rounds only start counting when the emulator is created"
    time.sleep(0.7)
    advanced = emu.current_round()
    assert advanced >= start + 2, "a round every 0.2 s of wall-clock time"
    emu.advance_activity(3)
    assert emu.current_round() >= advanced + 3
