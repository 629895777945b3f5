"""Helpers for fault tests: an emulator with fast timings, a client with small retry/poll settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from d365_assets.emulator import Emulator
from d365_assets.fo import ClientSecretCredential, D365Client, RetryPolicy
from d365_assets.package import DataPackage
from d365_assets.schema import EntitySchema
from tests.conftest import QUICK_LIFECYCLE

CATALOG = Path(__file__).resolve().parents[2] / "d365_assets" / "catalog.yaml"
FAST = QUICK_LIFECYCLE
QUICK_RETRY = RetryPolicy(max_attempts=6, max_elapsed=15.0, initial_backoff=0.05, max_backoff=0.2)


def client_for(emu: Emulator, **overrides: Any) -> D365Client:
    """A real client (real msal, real HTTPS) of ``emu`` that polls and retries quickly."""
    credential = overrides.pop(
        "credential",
        ClientSecretCredential(
            emu.tenant_id,
            emu.client_id,
            overrides.pop("client_secret", emu.client_secret),
            authority_host=emu.authority_host,
        ),
    )
    options: dict[str, Any] = {
        "environment_url": emu.environment_url,
        "credential": credential,
        "ca_bundle": emu.ca_bundle,
        "poll_interval": 0.05,
        "max_poll_interval": 0.2,
        "poll_timeout": 20.0,
        "not_found_grace": 10.0,
        "url_timeout": 10.0,
        "retry": QUICK_RETRY,
    }
    options.update(overrides)
    return D365Client(**options)


def catalog_entity(name: str) -> tuple[str, EntitySchema]:
    """(DMF label, schema) of a catalog entity by collection name."""
    document = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    entity = next(e for e in document["entities"] if e["name"] == name)
    return entity["label"], EntitySchema.of(entity["columns"].items())


def assert_rows(emu: Emulator, package: Path, collection: str, company: str | None) -> int:
    """The package holds exactly the emulator's current rows of the entity; returns the count."""
    label, schema = catalog_entity(collection)
    with DataPackage.open(package) as opened:
        frame = opened.read_entity(label, schema=schema)
    expected = emu.source_rows(collection, company)
    key = schema.names[0]
    got = sorted(({k: r[k] for k in schema.names} for r in frame.rows(named=True)), key=lambda r: str(r[key]))
    want = sorted(({k: r[k] for k in schema.names} for r in expected), key=lambda r: str(r[key]))
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
