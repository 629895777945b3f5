"""One entity refresh: export from F&O, read the package, load DuckDB. No Dagster here."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import polars as pl

from d365_assets.catalog import CatalogError, EntityConfig
from d365_assets.fo import (
    ApiError,
    D365Client,
    D365Error,
    ExecutionStatus,
    ExportedPackage,
    ExportFailedError,
    PackageDownloadError,
)
from d365_assets.package import (
    ColumnDrift,
    DataPackage,
    PackageError,
    PackageIntegrityError,
    check_entity_file,
)
from d365_assets.schema import EntitySchema, RefreshMode
from d365_assets.spool import PackageSpool, SpooledExport, SpoolError, SpoolSlot
from d365_assets.warehouse import LoadError, LoadGuard, LoadRequest, LoadResult, RemovalHeldError, Warehouse

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
    reconcile_reason: str | None = None
    """Why the next refresh of this table and company reloads it in full, or None: e.g. F&O left rows
    out of this export (it ended PartiallySucceeded), so only a full export makes the table whole."""


def refresh_entity(
    *,
    entity: EntityConfig,
    company: str | None,
    client: D365Client,
    warehouse: Warehouse,
    spool: PackageSpool,
    mode: RefreshMode | None = None,
    guard: LoadGuard | None = None,
    discard_held: bool = False,
    wait_for_other_refresh: float = 4 * 3600.0,
) -> RefreshOutcome:
    """Export ``entity`` for ``company`` (None for shared entities), then load it into ``warehouse``.

    ``mode`` FULL on a delta entity is a reconcile: a full export through its ``reconcile_project``
    that replaces the company's rows, so rows deleted in F&O go. The DuckDB file is opened only for
    the load, never while waiting on F&O. Every export is noted in ``spool`` as soon as F&O accepts
    it; one that an earlier refresh did not finish loading is completed and loaded first (or, with
    ``discard_held``, set aside unloaded). A delta that can no longer be completed (its package
    expired, damaged, discarded, cut short by F&O, or perhaps started unnoticed) turns this refresh,
    and every one after it until a full load commits, into a reconcile. Every load is checked whole
    before it commits; ``guard`` says how much of a company's rows a full load may remove.
    """
    if entity.company_specific and company is None:
        raise ValueError(f"{entity.name} is company-specific: pass one of {list(entity.companies)}")
    mode = mode or entity.refresh
    schema = entity.schema or _schema_from_metadata(client, entity)
    who = company or "shared"
    with spool.slot(entity.table_name, company, timeout=wait_for_other_refresh) as slot:
        run = _Refresh(entity, schema, company, client, warehouse, slot, guard or LoadGuard())
        replayed = run.replay_pending(discard=discard_held)
        if slot.reconcile_reason and mode is RefreshMode.DELTA:
            logger.warning("%s %s: reloading in full: %s", entity.name, who, slot.reconcile_reason)
            mode = RefreshMode.FULL  # only a full export makes the table whole again
        export = run.start_export(mode)
        package = client.complete_export(execution_id=export.execution_id, destination=export.path)
        export = run.take_partial(export, package)
        clock = time.perf_counter()
        load, package_rows, drift = run.load_fresh(export)
        seconds = {**package.timings, "parse_and_load": time.perf_counter() - clock}
        reconcile_reason = slot.reconcile_reason
    logger.info(
        "%s %s: %d package rows, %d inserted, %d updated, %d deleted (execution %s)",
        entity.name, who, package_rows, load.rows_inserted, load.rows_updated,
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
        fo_row_count=_fo_row_count(client, entity, company) if export.mode is RefreshMode.FULL else None,
        replayed=tuple(replayed),
        drift=drift,
        reconcile_reason=reconcile_reason,
    )


@dataclass(frozen=True)
class _Refresh:
    """One refresh holding its table and company's spool slot: how its exports are loaded."""

    entity: EntityConfig
    schema: EntitySchema
    company: str | None
    client: D365Client
    warehouse: Warehouse
    slot: SpoolSlot
    guard: LoadGuard

    @property
    def who(self) -> str:
        return self.company or "shared"

    def start_export(self, mode: RefreshMode) -> SpooledExport:
        """``ExportToPackage`` for this table and company, noted in the slot as soon as F&O accepts it.

        When F&O may have started a delta without telling (the call's answer was lost and F&O could
        not confirm it), its changes may never arrive: the next refresh reloads in full.
        """
        try:
            execution_id = self.client.export_to_package(
                data_project=_project(self.entity, mode),
                legal_entity=self.company or self.entity.companies[0],
            )
        except ApiError as exc:
            if exc.unanswered and mode is RefreshMode.DELTA:
                self.slot.require_reconcile(reason=f"a delta export may have started unnoticed: {exc}")
            raise
        return self.slot.note(execution_id=execution_id, mode=mode)

    def take_partial(self, export: SpooledExport, package: ExportedPackage) -> SpooledExport:
        """The export to load: a PartiallySucceeded one lacks the rows F&O failed to export.

        So it never removes rows (a full one is loaded as an upsert), and the next refresh reloads the
        table in full, as a delta's missing changes would otherwise be lost.
        """
        if package.status is not ExecutionStatus.PARTIALLY_SUCCEEDED:
            return export
        said = "; ".join(package.warnings) or "F&O gave no messages"
        reason = f"execution {export.execution_id} partially succeeded, without the rows F&O failed ({said})"
        self.slot.require_reconcile(reason=reason)
        logger.warning("%s %s: %s; loading what arrived, reloading in full next time",
                       self.entity.name, self.who, reason)  # fmt: skip
        if export.mode is RefreshMode.FULL:
            return self.slot.note(execution_id=export.execution_id, mode=RefreshMode.DELTA)
        return export

    def replay_pending(self, *, discard: bool) -> list[LoadResult]:
        """Load (or, with ``discard``, set aside) what earlier refreshes left; returns the loads."""
        replayed = []
        for pending in self.slot.pending():
            if discard:
                aside = self.slot.set_aside(pending, reason="discarded on request, not loaded")
                logger.warning("%s %s: set aside execution %s unloaded, in %s",
                               self.entity.name, self.who, pending.execution_id, aside)  # fmt: skip
                continue
            result = self._finish_pending(pending)
            self.slot.remove(pending)
            if result is None and pending.mode is RefreshMode.DELTA:
                self.slot.require_reconcile(reason=f"delta {pending.execution_id} was lost")
            elif result is not None:
                replayed.append(result)
        return replayed

    def load_fresh(self, export: SpooledExport) -> tuple[LoadResult, int, ColumnDrift]:
        """Load the export this refresh made; a damaged package is set aside for a new export next time."""
        try:
            loaded = self._load(export)
        except PackageIntegrityError as exc:
            aside = self.slot.set_aside(export, reason=str(exc))
            lost = export.mode is RefreshMode.DELTA
            raise PackageIntegrityError(
                f"{exc}. The package was set aside in {aside}, and the next refresh exports again"
                + (" in full (a reconcile), as this delta is lost" if lost else "")
            ) from exc
        self.slot.remove(export)
        if export.mode is RefreshMode.FULL:
            self.slot.reconciled()
        return loaded

    def _finish_pending(self, pending: SpooledExport) -> LoadResult | None:
        """Complete and load an export an earlier refresh left behind; None when nothing can be loaded."""
        if not pending.downloaded:
            try:
                package = self.client.complete_export(
                    execution_id=pending.execution_id, destination=pending.path
                )
                pending = self.take_partial(pending, package)
            except (ExportFailedError, PackageDownloadError) as exc:
                if isinstance(exc, PackageDownloadError) and not exc.package_gone:
                    raise  # worth another try next time: the note stays
                logger.warning(
                    "%s %s: the export %s left by an earlier refresh cannot be completed (%s)",
                    self.entity.name, self.who, pending.execution_id, exc,
                )  # fmt: skip
                return None
        try:
            result = self._load(pending)[0]
        except PackageIntegrityError as exc:
            aside = self.slot.set_aside(pending, reason=str(exc))
            logger.warning(
                "%s %s: the package of execution %s, left by an earlier refresh, is damaged and was set "
                "aside in %s (%s); exporting again",
                self.entity.name, self.who, pending.execution_id, aside, exc,
            )  # fmt: skip
            return None
        except RemovalHeldError:
            raise  # held back, not broken: the caller may accept it or discard it
        except (PackageError, LoadError) as exc:
            raise SpoolError(
                f"the export {pending.execution_id} that an earlier refresh of {self.entity.name} "
                f"({self.who}) left at {pending.path} cannot be loaded: {str(exc).rstrip('.')}. Fix the "
                f"cause and run again, or discard that export (it is set aside; a delta entity is then "
                f"reloaded in full)"
            ) from exc
        if result.applied and pending.mode is RefreshMode.FULL:
            self.slot.reconciled()
        logger.warning(
            "%s %s: loaded execution %s, left by an earlier refresh that did not finish",
            self.entity.name, self.who, pending.execution_id,
        )  # fmt: skip
        return result

    def _load(self, package: SpooledExport) -> tuple[LoadResult, int, ColumnDrift]:
        """Load one spooled package; returns the load, the rows the entity file held, and its column drift.

        The entity file must be whole (a header, the key columns, the entity's columns); a delta's
        file without a header row carries no changes. Columns F&O started sending are loaded as text
        (and added to the table); catalog columns F&O stopped sending stay in the table, NULL from then on.
        """
        entity = self.entity
        counter = _RowCounter()
        with DataPackage.open(package.path) as data_package:
            file = data_package.open_entity(entity.label, schema=self.schema)
            if not file.header and package.mode is RefreshMode.DELTA:
                logger.warning(
                    "%s %s: the delta of execution %s has an empty entity file (no header row): no changes",
                    entity.name, self.who, package.execution_id,
                )  # fmt: skip
            else:
                check_entity_file(file, natural_key=entity.natural_key, declared=entity.schema is not None)
            load = self.warehouse.load(
                LoadRequest(
                    entity=entity.name,
                    table=entity.table_name,
                    schema=file.schema,
                    batches=counter.count(file.batches()),
                    company=self.company,
                    mode=package.mode,
                    natural_key=entity.natural_key,
                    execution_id=package.execution_id,
                    package_bytes=package.size_bytes,
                    guard=self.guard,
                )
            )
        if file.drift:
            logger.warning(
                "%s %s: F&O sent new columns %s and no longer sends %s; add or remove them in the catalog",
                entity.name, self.who, list(file.drift.added), list(file.drift.missing),
            )  # fmt: skip
        return load, counter.rows, file.drift


def _project(entity: EntityConfig, mode: RefreshMode) -> str:
    """The data project that exports ``entity`` in ``mode`` (a delta entity's full export reconciles)."""
    if mode is entity.refresh:
        return entity.data_project
    if entity.reconcile_project is None:
        raise CatalogError(
            f"{entity.name} is a {entity.refresh.value} entity without a reconcile_project, so it cannot be "
            f"exported in {mode.value} mode; add a reconcile_project (a full-push data project of the entity)"
        )
    return entity.reconcile_project


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
