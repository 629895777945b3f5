"""Fixtures for the emulator tests: a small, fast emulator and an HTTPS client that trusts its CA."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:  # allow running pytest without installing the project
    sys.path.insert(0, str(_REPO))

from d365_assets.emulator import Emulator  # noqa: E402

from .helpers import FoClient, small_config  # noqa: E402


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
