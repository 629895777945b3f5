"""One entity refresh: export from F&O, read the package, load DuckDB or Delta. No Dagster here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from d365_assets.catalog import CatalogError, EntityConfig
from d365_assets.fo import (
    D365Client,
    D365Error,
    ExportedPackage,
)
from d365_assets.loading import Destination, LoadGuard, LoadResult
from d365_assets.package import (
    ColumnDrift,
)
from d365_assets.refresh.queue import drain_queue
from d365_assets.refresh.slot_run import SlotRun
from d365_assets.schema import EntitySchema, RefreshMode
from d365_assets.spool import PackageSpool

__all__ = ["RefreshOutcome", "fo_row_count", "refresh_entity", "schema_for"]

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
    """Loads applied before this refresh's own: packages earlier refreshes left unloaded, and before a
    full export of an entity read from a recurring job, the messages its queue held."""
    fo_row_count: int | str | None = None
    """After a full load: F&O's own count (OData ``$count``), or the error text when F&O did not tell."""
    drift: ColumnDrift = field(default_factory=ColumnDrift)
    """Columns the entity file has beyond the catalog's (added) and catalog columns it lacks (missing)."""
    warnings: tuple[str, ...] = ()
    """What this refresh met and dealt with: a delta without rows, a lost delta reloaded in full, ..."""
    reconcile_reason: str | None = None
    """Why the next refresh of this table and company reloads it in full, or None: e.g. F&O left rows
    out of this export (it ended PartiallySucceeded), so only a full export makes the table whole."""


def refresh_entity(
    *,
    entity: EntityConfig,
    company: str | None,
    client: D365Client,
    warehouse: Destination,
    spool: PackageSpool,
    mode: RefreshMode | None = None,
    guard: LoadGuard | None = None,
    discard_held: bool = False,
    wait_for_other_refresh: float = 4 * 3600.0,
) -> RefreshOutcome:
    """Export ``entity`` for ``company`` (None for shared entities), then load it into ``warehouse`` (a
    :class:`~d365_assets.loading.Destination`: the DuckDB warehouse or the Delta lake).

    ``mode`` FULL on a delta entity is a reconcile (through its ``reconcile_project``). Each export is
    noted in ``spool`` once F&O accepts it; what an earlier refresh left (and, before a full export,
    a recurring job's queued messages) is loaded first, or set aside with ``discard_held``. A delta
    that can no longer be completed (cleaned up, damaged, cut short, perhaps started unnoticed,
    discarded) makes every refresh a reconcile until a full load commits. Loads are checked whole
    before they commit; ``guard`` bounds what a full load may remove.
    """
    if entity.company_specific and company is None:
        raise ValueError(f"{entity.name} is company-specific: pass one of {list(entity.companies)}")
    mode = mode or entity.refresh
    schema = entity.schema or schema_for(client, entity)
    with spool.slot(entity.table_name, company, timeout=wait_for_other_refresh) as slot:
        run = SlotRun(entity, schema, company, client, warehouse, slot, guard or LoadGuard())
        replayed = run.replay_pending(discard=discard_held)
        if slot.reconcile_reason and mode is RefreshMode.DELTA:
            run.warn(f"reloading in full: {slot.reconcile_reason}")
            mode = RefreshMode.FULL  # only a full export makes the table whole again
        replayed += _queued_messages(run) if mode is RefreshMode.FULL else []
        export = run.start_export(mode)
        package = client.complete_export(execution_id=export.execution_id, destination=export.path)
        export = run.take_partial(export, package)
        clock = time.perf_counter()
        load, package_rows, drift = run.load_fresh(export)
        seconds = {**package.timings, "parse_and_load": time.perf_counter() - clock}
        reconcile_reason = slot.reconcile_reason
    logger.info(
        "%s %s: %d package rows, %d inserted, %d updated, %d deleted (execution %s)",
        entity.name, run.who, package_rows, load.rows_inserted, load.rows_updated,
        load.rows_deleted, package.execution_id,
    )  # fmt: skip
    return RefreshOutcome(
        entity=entity,
        company=company,
        mode=export.mode,
        package=package,
        load=load,
        package_rows=package_rows,
        seconds=seconds,
        summary_url=_summary_url(client, package.execution_id),
        fo_row_count=fo_row_count(client, entity, company) if export.mode is RefreshMode.FULL else None,
        replayed=tuple(replayed),
        drift=drift,
        warnings=tuple(run.warnings),
        reconcile_reason=reconcile_reason,
    )


def _queued_messages(run: SlotRun) -> list[LoadResult]:
    """Before a full export of an entity read from a recurring job: the loads of its queued messages.

    A message exported before the full export but loaded after it would bring back older values (and
    rows deleted since), so the queue is emptied first; see :mod:`d365_assets.refresh.queue`.
    """
    entity = run.entity
    activity = entity.recurring_activity_id
    if activity is None or (entity.company_specific and run.company != entity.recurring_company):
        return []
    return drain_queue(run, str(activity))


def schema_for(client: D365Client, entity: EntityConfig) -> EntitySchema:
    """The entity's columns from F&O's $metadata, when the catalog does not declare them."""
    schema = client.get_entity_schema(entity.name)
    missing = [key for key in entity.natural_key if schema.get(key) is None]
    if missing:
        raise CatalogError(
            f"{entity.name}: natural_key {missing} is not among the columns F&O's $metadata lists "
            f"({', '.join(schema.names)}); fix natural_key in the catalog"
        )
    return schema


def _summary_url(client: D365Client, execution_id: str) -> str | None:
    """The execution summary page, or None: optional metadata never fails a refresh."""
    try:
        return client.get_execution_summary_page_url(execution_id) or None
    except D365Error as exc:
        logger.warning("could not get the execution summary page of %s: %s", execution_id, exc)
        return None


def fo_row_count(client: D365Client, entity: EntityConfig, company: str | None) -> int | str:
    """F&O's ``$count`` of the entity for the company, or the reason it is unknown."""
    try:
        return client.count_entity_rows(entity.name, company=company if entity.company_specific else None)
    except D365Error as exc:
        logger.warning("could not count %s rows in F&O: %s", entity.name, exc)
        return str(exc)
