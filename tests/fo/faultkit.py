"""Helpers for fault tests: the package holds the emulator's rows, time bounds, request counts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from d365_assets.emulator import Emulator
from d365_assets.package import DataPackage
from tests.support.catalog import catalog_entity


def assert_rows(
    emu: Emulator, package: Path, collection: str, company: str | None, *, left_out: int = 0
) -> int:
    """The package holds exactly the emulator's current rows of the entity (all but ``left_out`` of
    them, for a PartiallySucceeded export); returns the count."""
    entity = catalog_entity(collection)
    schema = entity.schema
    with DataPackage.open(package) as opened:
        frame = opened.read_entity(entity.label, schema=schema)
    expected = emu.source_rows(collection, company)
    key = schema.names[0]
    got = sorted(({k: r[k] for k in schema.names} for r in frame.rows(named=True)), key=lambda r: str(r[key]))
    want = sorted(({k: r[k] for k in schema.names} for r in expected), key=lambda r: str(r[key]))
    if left_out:
        assert all(row in want for row in got)
        assert len(got) == len(want) - left_out
    else:
        assert got == want
    assert len(got) > 0
    return len(got)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Assert that the block finishes within ``seconds`` of wall time."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s, bound {seconds}s"


def count(emu: Emulator, *, origin: str, contains: str = "", method: str = "") -> int:
    """How many requests ``emu`` received on ``origin`` whose path contains ``contains``."""
    return sum(
        1
        for r in emu.requests
        if r.origin == origin and contains in r.path and (not method or r.method == method)
    )
