"""One refresh of an entity for a company, as the asset runs it, against an emulator over HTTPS.

The warehouse and the spool live in ``folder`` (``warehouse.duckdb``, ``packages/``), so a test's
refreshes share them and a later refresh finds what an earlier one left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from d365_assets.catalog import EntityConfig
from d365_assets.emulator import Emulator
from d365_assets.fo import RetryPolicy
from d365_assets.refresh import RefreshOutcome, refresh_entity
from d365_assets.spool import PackageSpool
from d365_assets.warehouse import Warehouse
from tests.support.environment import client_for

__all__ = ["FEW_RETRIES", "refresh_from", "spool_in", "warehouse_in"]

FEW_RETRIES = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05)
"""Retries for tests that play a failing F&O: one quick retry, then the error."""


def warehouse_in(folder: Path, *, lock_timeout: float = 300.0) -> Warehouse:
    """The test's DuckDB warehouse in ``folder``."""
    return Warehouse(folder / "warehouse.duckdb", lock_timeout=lock_timeout)


def spool_in(folder: Path) -> PackageSpool:
    """The test's spool of exports not loaded yet, in ``folder``."""
    return PackageSpool(folder / "packages", scope="test")


def refresh_from(
    emulator: Emulator,
    folder: Path,
    entity: EntityConfig,
    *,
    company: str | None = "USMF",
    client_options: dict[str, Any] | None = None,
    lock_timeout: float = 300.0,
    **options: Any,
) -> RefreshOutcome:
    """Refresh ``entity`` for ``company`` from ``emulator`` into ``folder``'s warehouse and spool.

    ``client_options`` go to the client (retries, polling); ``options`` to :func:`refresh_entity`.
    """
    with client_for(emulator, **(client_options or {})) as client:
        return refresh_entity(
            entity=entity,
            company=company,
            client=client,
            warehouse=warehouse_in(folder, lock_timeout=lock_timeout),
            spool=spool_in(folder),
            **options,
        )
