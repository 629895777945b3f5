"""One message of a recurring export job: download, load, and only then acknowledge. No Dagster here.

F&O's recurring data job exports on its own schedule; each package waits on the job's queue until a
client acknowledges it, and an unacknowledged message comes back after F&O's visibility timeout
(30 minutes). So a message is loaded exactly once by keying its load on its correlation id in the
load ledger (``recurring-<correlation id>``, which no DMF execution id looks like): the ledger row
commits with the rows, the acknowledgement follows the commit, and a message that comes back after
a crash between the two is recognised in the ledger, not loaded again, just acknowledged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from d365_assets.catalog import CatalogError, EntityConfig
from d365_assets.errors import D365AssetsError
from d365_assets.fo import (
    D365Client,
    D365Error,
    DequeuedMessage,
    DownloadedFile,
    ExecutionStatus,
    ExportedPackage,
    MessageStatus,
    RecurringMessageError,
    is_guid,
)
from d365_assets.loading import Destination, LoadGuard, LoadRequest, LoadResult
from d365_assets.refresh.entity import RefreshOutcome, fo_row_count, schema_for
from d365_assets.refresh.slot_run import SlotRun
from d365_assets.schema import EntitySchema, RefreshMode
from d365_assets.spool import PackageSpool, SpooledExport

__all__ = ["AckError", "MessageOutcome", "consume_message", "ledger_id"]

logger = logging.getLogger(__name__)

LEDGER_PREFIX = "recurring-"


class AckError(D365AssetsError):
    """The message's rows are committed, but F&O did not take its acknowledgement."""


@dataclass(frozen=True)
class MessageOutcome:
    """What consuming one message did: the load (as a refresh's outcome), and the message's fate."""

    message: DequeuedMessage
    refresh: RefreshOutcome
    already_applied: bool
    """The ledger held the message already (a re-delivery after a crash): acknowledged, not loaded."""
    message_status: str
    """``GetMessageStatus`` after the acknowledgement (``Unknown`` when F&O did not tell)."""


def ledger_id(message: DequeuedMessage) -> str:
    """The ledger's execution id of a message: ``recurring-<correlation id>``, checked to be a GUID."""
    if not is_guid(message.correlation_id):
        raise RecurringMessageError(
            f"correlation id {message.correlation_id[:60]!r} is not a GUID, so it cannot key the load ledger "
            "or name a file; nothing was loaded"
        )
    return LEDGER_PREFIX + message.correlation_id.lower()


def consume_message(
    *,
    entity: EntityConfig,
    message: DequeuedMessage,
    client: D365Client,
    warehouse: Destination,
    spool: PackageSpool,
    guard: LoadGuard | None = None,
    wait_for_other_refresh: float = 4 * 3600.0,
) -> MessageOutcome:
    """Load ``message`` into ``entity``'s table (full or delta per the entity), then acknowledge it.

    The package goes to the spool slot of the table and the job's company, is read and checked whole
    as a package API export is, and loads in one transaction keyed by :func:`ledger_id`. What earlier
    package-API refreshes left in the slot is loaded first. A message without a file loads no rows.
    The acknowledgement is sent only after the commit; when F&O refuses it, :class:`AckError`.
    """
    if message.activity_id != entity.recurring_activity_id:
        raise CatalogError(
            f"message {message.correlation_id} comes from recurring job {message.activity_id}, but "
            f"{entity.name}'s recurring_activity_id is {entity.recurring_activity_id}; nothing was loaded"
        )
    company = entity.recurring_company if entity.company_specific else None
    execution_id = ledger_id(message)
    schema = entity.schema or schema_for(client, entity)
    with spool.slot(entity.table_name, company, timeout=wait_for_other_refresh) as slot:
        run = SlotRun(entity, schema, company, client, warehouse, slot, guard or LoadGuard())
        replayed = run.replay_pending(discard=False)
        export = SpooledExport(execution_id, entity.refresh, slot.folder / f"{execution_id}.zip")
        already = warehouse.has_applied(execution_id, table=entity.table_name)
        if already:
            export.path.unlink(missing_ok=True)  # a download a crash left after the commit
        started = time.perf_counter()
        downloaded = None if already else client.recurring.download(message, export.path)
        download_seconds, started = time.perf_counter() - started, time.perf_counter()
        if downloaded is not None:
            load, rows, drift = run.load_fresh(export)
        else:
            load, rows, drift = _without_file(run, export, schema, applied_before=already), 0, None
    _acknowledge(client, message, execution_id)
    refresh = RefreshOutcome(
        entity=entity,
        company=company,
        mode=load.mode,
        package=_package(execution_id, export, downloaded, download_seconds),
        load=load,
        package_rows=rows,
        seconds={"download": download_seconds, "parse_and_load": time.perf_counter() - started},
        replayed=tuple(replayed),
        fo_row_count=_count(client, entity, company, load),
        warnings=tuple(run.warnings),
        reconcile_reason=None,
        **({"drift": drift} if drift is not None else {}),
    )
    logger.info("%s %s: message %s: %d rows, %s", entity.name, company or "shared", message.correlation_id,
                rows, "already loaded, acknowledged" if already else "loaded and acknowledged")  # fmt: skip
    return MessageOutcome(message, refresh, already, _status(client, message))


def _without_file(
    run: SlotRun, export: SpooledExport, schema: EntitySchema, *, applied_before: bool
) -> LoadResult:
    """The load of a message with no rows to read: a re-delivery already in the ledger, or no file.

    A message without a file records an empty delta (never a full load: it would empty the table), so
    a re-delivery of it is recognised too.
    """
    if not applied_before:
        run.warn(f"message {export.execution_id} has no file (F&O uploaded none): no rows")
    entity = run.entity
    return run.warehouse.load(
        LoadRequest(
            entity=entity.name,
            table=entity.table_name,
            schema=schema,
            batches=iter(()),
            company=run.company,
            mode=export.mode if applied_before else RefreshMode.DELTA,
            natural_key=entity.natural_key,
            execution_id=export.execution_id,
            package_bytes=0,
            guard=run.guard,
        )
    )


def _count(
    client: D365Client, entity: EntityConfig, company: str | None, load: LoadResult
) -> int | str | None:
    """F&O's ``$count`` after a full load (as for the package API); None after a delta."""
    if load.mode is not RefreshMode.FULL:
        return None
    return fo_row_count(client, entity, company) if load.applied else "not compared: loaded before"


def _acknowledge(client: D365Client, message: DequeuedMessage, execution_id: str) -> None:
    try:
        client.recurring.ack(message)
    except D365Error as exc:
        raise AckError(
            f"the rows of message {message.correlation_id} (recurring job {message.activity_id}) are "
            f"loaded and committed as execution {execution_id}, but F&O did not take the "
            f"acknowledgement: {exc}. Nothing more to do: F&O delivers the message again after its "
            "visibility timeout (30 minutes), and it is then recognised as loaded and acknowledged"
        ) from exc


def _package(
    execution_id: str, export: SpooledExport, downloaded: DownloadedFile | None, seconds: float
) -> ExportedPackage:
    return ExportedPackage(
        execution_id=execution_id,
        status=ExecutionStatus.SUCCEEDED,
        path=export.path,
        size_bytes=downloaded.size_bytes if downloaded else 0,
        download_seconds=seconds,
    )


def _status(client: D365Client, message: DequeuedMessage) -> str:
    """The message's status after the acknowledgement; optional, so a failure to tell is logged only."""
    try:
        return str(client.recurring.get_message_status(message.correlation_id))
    except D365Error as exc:
        logger.warning("could not get the status of message %s: %s", message.correlation_id, exc)
        return str(MessageStatus.UNKNOWN)
