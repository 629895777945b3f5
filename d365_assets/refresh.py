"""One entity refresh: export from F&O, read the package, load DuckDB. No Dagster here."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import polars as pl

from d365_assets.catalog import CatalogError, EntityConfig, RefreshMode
from d365_assets.fo import D365Client, D365Error, ExportedPackage
from d365_assets.package import ColumnDrift, DataPackage, EntitySchema
from d365_assets.spool import PackageSpool, SpooledPackage
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
    """Wall seconds per phase: export_wait (F&O), download, parse_and_load."""
    summary_url: str | None = None
    """F&O's execution summary page for this export, when F&O tells it."""
    replayed: tuple[LoadResult, ...] = ()
    """Loads of packages that earlier refreshes downloaded but could not load, applied first."""
    fo_row_count: int | str | None = None
    """After a full load: F&O's own count (OData ``$count``), or the error text when F&O did not tell."""
    drift: ColumnDrift = field(default_factory=ColumnDrift)
    """Columns the entity file has beyond the catalog's (added) and catalog columns it lacks (missing)."""


def refresh_entity(
    *,
    entity: EntityConfig,
    company: str | None,
    client: D365Client,
    warehouse: Warehouse,
    spool: PackageSpool,
    mode: RefreshMode | None = None,
    wait_for_other_refresh: float = 4 * 3600.0,
) -> RefreshOutcome:
    """Export ``entity`` for ``company`` (None for shared entities), then load it into ``warehouse``.

    ``mode`` FULL on a delta entity is a reconcile: a full export through its ``reconcile_project``
    that replaces the company's rows, so rows deleted in F&O go. The DuckDB file is opened only for
    the load, never while waiting on F&O. A package whose load fails stays in ``spool`` and is
    loaded first by the next refresh of the same entity and company.
    """
    if entity.company_specific and company is None:
        raise ValueError(f"{entity.name} is company-specific: pass one of {list(entity.companies)}")
    mode = mode or entity.refresh
    project = entity.data_project if mode is entity.refresh else entity.reconcile_project
    if project is None:
        raise ValueError(f"{entity.name} has no reconcile_project in the catalog: add one to reconcile it")
    schema = entity.schema or _schema_from_metadata(client, entity)
    with spool.exclusive(entity.table_name, company, timeout=wait_for_other_refresh) as folder:
        replayed = []
        for pending in spool.pending(entity.table_name, company):
            replayed.append(_load(entity, schema, company, warehouse, pending)[0])
            spool.remove(pending)
            logger.warning(
                "%s %s: loaded the package of execution %s left by an earlier failed refresh",
                entity.name, company or "shared", pending.execution_id,
            )  # fmt: skip
        package = client.export_package(
            data_project=project, legal_entity=company or entity.companies[0], destination_dir=folder
        )
        spooled = spool.record(package.path, execution_id=package.execution_id, mode=mode.value)
        clock = time.perf_counter()
        load, package_rows, drift = _load(entity, schema, company, warehouse, spooled)
        seconds = {**package.timings, "parse_and_load": time.perf_counter() - clock}
        spool.remove(spooled)
    logger.info(
        "%s %s: %d package rows, %d inserted, %d updated, %d deleted (execution %s)",
        entity.name, company or "shared", package_rows, load.rows_inserted, load.rows_updated,
        load.rows_deleted, package.execution_id,
    )  # fmt: skip
    return RefreshOutcome(
        entity=entity,
        company=company,
        mode=mode,
        package=package,
        load=load,
        package_rows=package_rows,
        seconds=seconds,
        summary_url=_summary_url(client, package.execution_id),
        fo_row_count=_fo_row_count(client, entity, company) if mode is RefreshMode.FULL else None,
        replayed=tuple(replayed),
        drift=drift,
    )


def _schema_from_metadata(client: D365Client, entity: EntityConfig) -> EntitySchema:
    """The entity's columns from F&O's $metadata, when the catalog does not declare them."""
    schema = client.get_entity_schema(entity.name)
    missing = [key for key in entity.natural_key if schema.get(key) is None]
    if missing:
        raise CatalogError(
            f"{entity.name}: natural_key {missing} is not among the columns F&O's $metadata lists "
            f"({', '.join(schema.names)}); fix natural_key in the catalog"
        )
    return schema


def _load(
    entity: EntityConfig,
    schema: EntitySchema,
    company: str | None,
    warehouse: Warehouse,
    package: SpooledPackage,
) -> tuple[LoadResult, int, ColumnDrift]:
    """Load one spooled package; returns the load, the rows the entity file held, and its column drift.

    Columns F&O started sending are loaded as text (and added to the table); catalog columns F&O
    stopped sending stay in the table, NULL from then on.
    """
    counter = _RowCounter()
    with DataPackage.open(package.path) as data_package:
        drift = data_package.column_drift(entity.label, schema)
        batches = data_package.iter_entity_batches(entity.label, schema=schema, extra_columns="keep")
        load = warehouse.load(
            entity=entity.name,
            table=entity.table_name,
            schema=data_package.effective_schema(entity.label, schema),
            batches=counter.count(batches),
            company=company,
            mode=package.mode,
            natural_key=entity.natural_key,
            execution_id=package.execution_id,
            package_bytes=package.size_bytes,
        )
    if drift:
        logger.warning(
            "%s %s: F&O sent new columns %s and no longer sends %s; add or remove them in the catalog",
            entity.name, company or "shared", list(drift.added), list(drift.missing),
        )  # fmt: skip
    return load, counter.rows, drift


def _summary_url(client: D365Client, execution_id: str) -> str | None:
    """The execution summary page, or None: optional metadata never fails a refresh."""
    try:
        return client.get_execution_summary_page_url(execution_id) or None
    except D365Error as exc:
        logger.warning("could not get the execution summary page of %s: %s", execution_id, exc)
        return None


def _fo_row_count(client: D365Client, entity: EntityConfig, company: str | None) -> int | str:
    """F&O's ``$count`` of the entity for the company, or the reason it is unknown."""
    try:
        return client.count_entity_rows(entity.name, company=company if entity.company_specific else None)
    except D365Error as exc:
        logger.warning("could not count %s rows in F&O: %s", entity.name, exc)
        return str(exc)


class _RowCounter:
    """Counts the rows the package reader yields, independently of what the loader reports."""

    def __init__(self) -> None:
        self.rows = 0

    def count(self, batches: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        for batch in batches:
            self.rows += batch.height
            yield batch
