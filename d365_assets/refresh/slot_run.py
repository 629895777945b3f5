"""One refresh holding a table and company's spool slot: replaying, starting and loading its exports."""

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
    ExecutionStatus,
    ExportedPackage,
    ExportFailedError,
    ExportTimeoutError,
    PackageDownloadError,
)
from d365_assets.loading import Destination, LoadError, LoadGuard, LoadRequest, LoadResult, RemovalHeldError
from d365_assets.package import (
    ColumnDrift,
    DataPackage,
    EmptyEntityFileError,
    EntityFile,
    PackageError,
    PackageIntegrityError,
    check_entity_file,
)
from d365_assets.schema import EntitySchema, RefreshMode
from d365_assets.spool import SpooledExport, SpoolError, SpoolSlot

__all__ = ["SlotRun", "project_for"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotRun:
    """One refresh holding its table and company's spool slot: how its exports are loaded."""

    entity: EntityConfig
    schema: EntitySchema
    company: str | None
    client: D365Client
    warehouse: Destination
    slot: SpoolSlot
    guard: LoadGuard
    warnings: list[str] = field(default_factory=list)

    @property
    def who(self) -> str:
        return self.company or "shared"

    def warn(self, text: str) -> None:
        """Log a warning about this refresh and keep it for its outcome."""
        logger.warning("%s %s: %s", self.entity.name, self.who, text)
        self.warnings.append(text)

    def start_export(self, mode: RefreshMode) -> SpooledExport:
        """``ExportToPackage`` for this table and company, noted in the slot as soon as F&O accepts it.

        When F&O may have started a delta without telling (the call's answer was lost and F&O could
        not confirm it), its changes may never arrive: the next refresh reloads in full.
        """
        requested_at = time.time()  # before the call: F&O reads the rows after this
        try:
            execution_id = self.client.export_to_package(
                data_project=project_for(self.entity, mode),
                legal_entity=self.company or self.entity.companies[0],
            )
        except ApiError as exc:
            if exc.unanswered and mode is RefreshMode.DELTA:
                self.slot.require_reconcile(reason=f"a delta export may have started unnoticed: {exc}")
            raise
        return self.slot.note(execution_id=execution_id, mode=mode, requested_at=requested_at)

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
            self.slot.full_load_committed(requested_at=export.requested_at)
        return loaded

    def _finish_pending(self, pending: SpooledExport) -> LoadResult | None:
        """Complete and load an export an earlier refresh left behind; None when nothing can be loaded."""
        if not pending.downloaded:
            package = self._download_pending(pending)
            if package is None:
                return None
            pending = self.take_partial(pending, package)
        elif pending.mode is RefreshMode.FULL:
            pending = self._whole_or_partial(pending)
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
        except (RemovalHeldError, EmptyEntityFileError):
            raise  # held back, not broken: the caller may accept it or discard it
        except (PackageError, LoadError) as exc:
            raise SpoolError(
                f"the export {pending.execution_id} that an earlier refresh of {self.entity.name} "
                f"({self.who}) left at {pending.path} cannot be loaded: {str(exc).rstrip('.')}. Fix the "
                f"cause and run again, or discard that export (it is set aside; a delta entity is then "
                f"reloaded in full)"
            ) from exc
        if pending.mode is RefreshMode.FULL:  # committed now, or before a crash kept its note
            self.slot.full_load_committed(requested_at=pending.requested_at)
            if result.applied:
                self.slot.reconciled()
        logger.warning(
            "%s %s: loaded execution %s, left by an earlier refresh that did not finish",
            self.entity.name, self.who, pending.execution_id,
        )  # fmt: skip
        return result

    def _whole_or_partial(self, pending: SpooledExport) -> SpooledExport:
        """A full export an earlier run downloaded but did not load, as F&O reports it now.

        That run may have stopped before it noted a PartiallySucceeded export as such, and as a full
        replace it would remove the rows F&O failed to export: any status but Succeeded makes it a
        partial one (an upsert, then a reconcile). An execution F&O no longer knows (its history is
        cleaned up after 7 days) stays a full load, under the load guards.
        """
        try:
            status = self.client.get_execution_status(pending.execution_id)
        except ApiError as exc:
            if exc.status_code != 400:
                raise  # worth another try next time: the note stays
            return pending
        if status is ExecutionStatus.SUCCEEDED:
            return pending
        package = ExportedPackage(
            execution_id=pending.execution_id,
            status=ExecutionStatus.PARTIALLY_SUCCEEDED,
            path=pending.path,
            size_bytes=pending.size_bytes,
            warnings=[f"F&O reports it {status.value}"],
        )
        return self.take_partial(pending, package)

    def _download_pending(self, pending: SpooledExport) -> ExportedPackage | None:
        """Download the package of an export an earlier refresh left; None when F&O no longer has it.

        F&O deletes job history (after 7 days by default) and packages (after 7 days). An export it
        answers 400 about (``not found``, past the grace, or any other client error), that ended
        without a package, whose package URL stays empty after it finished, or whose blob is gone, is
        gone. Anything passing (throttling, a 5xx, the network, an export still running) keeps the note.
        """
        try:
            self._ask_fo_if_old(pending)
            return self.client.complete_export(execution_id=pending.execution_id, destination=pending.path)
        except ExportFailedError as exc:
            reason: Exception = exc
        except PackageDownloadError as exc:
            if not exc.package_gone:
                raise  # worth another try next time: the note stays
            reason = exc
        except ApiError as exc:
            if exc.status_code != 400:
                raise
            reason = exc
        except ExportTimeoutError as exc:
            if not self._finished(pending.execution_id):
                raise  # still running in F&O: the note stays
            reason = exc
        self.warn(
            f"F&O can no longer give the export {pending.execution_id} that an earlier refresh left "
            f"(its job history or package is deleted after 7 days by default): {reason}"
        )
        return None

    def _ask_fo_if_old(self, pending: SpooledExport) -> None:
        """For an export noted longer ago than the not-found grace, ask F&O once whether it knows it.

        F&O answers 400 (:class:`ApiError`) about an execution its history clean-up deleted; asked at
        once, a refresh does not wait out the grace that only a young execution needs.
        """
        if pending.age_seconds > self.client.polling.not_found_grace:
            self.client.get_execution_status(pending.execution_id)

    def _finished(self, execution_id: str) -> bool:
        """Whether F&O is done with an execution (final, or unknown to it any more): no package will come."""
        try:
            return not self.client.get_execution_status(execution_id).is_pending
        except ApiError as exc:
            if exc.status_code == 400:
                return True
            raise

    def _load(self, package: SpooledExport) -> tuple[LoadResult, int, ColumnDrift]:
        """Load one spooled package; returns the load, the rows the entity file held, and its column drift.

        The entity file must be whole (see :meth:`_check_file`). Columns F&O started sending are
        loaded as text (and added to the table); catalog columns F&O stopped sending stay in the
        table, NULL from then on.
        """
        entity = self.entity
        counter = _RowCounter()
        with DataPackage.open(package.path) as data_package:
            file = data_package.open_entity(entity.label, schema=self.schema, locale=entity.locale)
            self._check_file(file, package)
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
        if package.mode is RefreshMode.DELTA and counter.rows == 0:
            self.warn(f"the delta of execution {package.execution_id} has {_no_rows(file)}: no changes")
        if file.drift:
            logger.warning(
                "%s %s: F&O sent new columns %s and no longer sends %s; add or remove them in the catalog",
                entity.name, self.who, list(file.drift.added), list(file.drift.missing),
            )  # fmt: skip
        return load, counter.rows, file.drift

    def _check_file(self, file: EntityFile, package: SpooledExport) -> None:
        """Refuse an entity file that is not whole (a header, the key columns, the entity's columns).

        A file with no rows at all (zero bytes, no header row, or none in the package) carries no
        changes in a delta; as a full load it would empty the company, so it is refused with
        :class:`EmptyEntityFileError` unless the guard accepts this load (an entity empty on purpose).
        """
        if file.header or (package.mode is RefreshMode.FULL and not self.guard.accept_removal):
            check_entity_file(
                file, natural_key=self.entity.natural_key, declared=self.entity.schema is not None
            )
        elif package.mode is RefreshMode.FULL:
            self.warn(
                f"the full export of execution {package.execution_id} has {_no_rows(file)}; loaded as no "
                f"rows, as accepted: the table holds none of this company's rows now"
            )


def project_for(entity: EntityConfig, mode: RefreshMode) -> str:
    """The data project that exports ``entity`` in ``mode`` (a delta entity's full export reconciles)."""
    if mode is entity.refresh:
        return entity.data_project
    if entity.reconcile_project is None:
        raise CatalogError(
            f"{entity.name} is a {entity.refresh.value} entity without a reconcile_project, so it cannot be "
            f"exported in {mode.value} mode; add a reconcile_project (a full-push data project of the entity)"
        )
    return entity.reconcile_project


def _no_rows(file: EntityFile) -> str:
    """How an entity file without rows came: no file, an empty file, or a header row only."""
    if not file.in_package:
        return "no entity file in the package"
    return "a header row only" if file.header else "an empty entity file (zero bytes, no header row)"


class _RowCounter:
    """Counts the rows the package reader yields, independently of what the loader reports."""

    def __init__(self) -> None:
        self.rows = 0

    def count(self, batches: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        for batch in batches:
            self.rows += batch.height
            yield batch
