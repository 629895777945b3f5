"""One entity refresh: export from F&O, read the package, load DuckDB. No Dagster here."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from d365_assets.catalog import EntityConfig, RefreshMode
from d365_assets.fo import D365Client, ExportedPackage
from d365_assets.package import DataPackage
from d365_assets.warehouse import LoadResult, Warehouse

__all__ = ["RefreshOutcome", "refresh_entity"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh of one entity (and company) did."""

    entity: EntityConfig
    company: str | None
    mode: RefreshMode
    package: ExportedPackage
    load: LoadResult
    package_rows: int
    """Rows the package's entity file held."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds per phase: f&o_wait, download, parse_and_load."""


def refresh_entity(
    *,
    entity: EntityConfig,
    company: str | None,
    client: D365Client,
    warehouse: Warehouse,
    mode: RefreshMode | None = None,
    workdir: Path | None = None,
) -> RefreshOutcome:
    """Export ``entity`` for ``company`` (None for shared entities), then load it into ``warehouse``.

    The DuckDB file is opened only for the load, never while waiting on F&O.
    """
    if entity.company_specific and company is None:
        raise ValueError(f"{entity.name} is company-specific: pass one of {list(entity.companies)}")
    mode = mode or entity.refresh
    project = entity.data_project if mode is entity.refresh else entity.reconcile_project
    if project is None:
        raise ValueError(f"{entity.name} has no reconcile_project in the catalog")
    with tempfile.TemporaryDirectory(prefix="d365-package-", dir=workdir) as tmp:
        package = client.export_package(
            data_project=project,
            legal_entity=company or entity.companies[0],
            destination_dir=Path(tmp),
        )
        clock = time.perf_counter()
        counter = _RowCounter()
        with DataPackage.open(package.path) as data_package:
            batches = data_package.iter_entity_batches(entity.label, schema=entity.schema)
            load = warehouse.load(
                entity=entity.name,
                table=entity.table_name,
                schema=entity.schema,
                batches=counter.count(batches),
                company=company,
                mode=mode.value,
                natural_key=entity.natural_key,
                execution_id=package.execution_id,
                package_bytes=package.size_bytes,
            )
    seconds = {**package.timings, "parse_and_load": time.perf_counter() - clock}
    logger.info(
        "%s %s: %d package rows, %d inserted, %d updated, %d deleted (execution %s)",
        entity.name, company or "shared", counter.rows, load.rows_inserted, load.rows_updated,
        load.rows_deleted, package.execution_id,
    )  # fmt: skip
    return RefreshOutcome(
        entity=entity,
        company=company,
        mode=mode,
        package=package,
        load=load,
        package_rows=counter.rows,
        seconds=seconds,
    )


class _RowCounter:
    """Counts the rows the package reader yields, independently of what the loader reports."""

    def __init__(self) -> None:
        self.rows = 0

    def count(self, batches: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        for batch in batches:
            self.rows += batch.height
            yield batch
