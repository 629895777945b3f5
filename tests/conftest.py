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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``make test`` (pytest-xdist, ``-n 2 --dist loadgroup``): the tests that start servers,
    ``dagster dev`` or other processes (marked e2e) run one after the other on one worker, beside the
    rest on the other, so their timeouts never compete with each other for the two cores."""
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.xdist_group("processes"))
