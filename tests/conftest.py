"""Shared fixtures; the helpers they and the tests use are in :mod:`tests.support`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, EmulatorConfig
from tests.support.environment import QUICK_LIFECYCLE, TEST_ROWS


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A running emulator with its own state folder, small tables and a quick execution lifecycle."""
    config = EmulatorConfig(rows=TEST_ROWS, **QUICK_LIFECYCLE)
    emulator = Emulator(state_dir=tmp_path / "emulator", config=config).start()
    try:
        yield emulator
    finally:
        emulator.stop()
