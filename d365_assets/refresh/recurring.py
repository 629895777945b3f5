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
from dataclasses import dataclass

from d365_assets.catalog import CatalogError, EntityConfig
from d365_assets.fo import (
    D365Client,
    D365Error,
    DequeuedMessage,
    ExecutionStatus,
    ExportedPackage,
    MessageStatus,
)
from d365_assets.loading import Destination, LoadGuard, LoadResult
from d365_assets.refresh.entity import RefreshOutcome, fo_row_count, schema_for
from d365_assets.refresh.queue import AckError, MessageLoad, acknowledge, ledger_id, load_message
from d365_assets.refresh.slot_run import SlotRun
from d365_assets.schema import RefreshMode
from d365_assets.spool import PackageSpool

__all__ = ["AckError", "MessageOutcome", "consume_message", "ledger_id"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageOutcome:
    """What consuming one message did: the load (as a refresh's outcome), and the message's fate."""

    message: DequeuedMessage
    refresh: RefreshOutcome
    already_applied: bool
    """The ledger held the message already (a re-delivery after a crash): acknowledged, not loaded."""
    message_status: str
    """``GetMessageStatus`` after the acknowledgement (``Unknown`` when F&O did not tell)."""
    superseded: bool = False
    """A full load requested after the message was first dequeued holds its changes: acknowledged,
    its rows not loaded (see :mod:`d365_assets.refresh.queue`)."""


def consume_message(
    *,
    entity: EntityConfig,
    message: DequeuedMessage,
    client: D365Client,
    warehouse: Destination,
    spool: PackageSpool,
    guard: LoadGuard | None = None,
    first_dequeued_at: float | None = None,
    wait_for_other_refresh: float = 4 * 3600.0,
) -> MessageOutcome:
    """Load ``message`` into ``entity``'s table (full or delta per the entity), then acknowledge it.

    The package goes to the spool slot of the table and the job's company, is read and checked whole
    as a package API export is, and loads in one transaction keyed by :func:`ledger_id`. What earlier
    package-API refreshes left in the slot is loaded first. A message without a file loads no rows;
    nor does one first dequeued (``first_dequeued_at``, ``time.time()``; None: unknown) before the
    export of the table's latest full load was requested, as that load holds its changes.
    The acknowledgement is sent only after the commit; when F&O refuses it, :class:`AckError`.
    """
    if message.activity_id != entity.recurring_activity_id:
        raise CatalogError(
            f"message {message.correlation_id} comes from recurring job {message.activity_id}, but "
            f"{entity.name}'s recurring_activity_id is {entity.recurring_activity_id}; nothing was loaded"
        )
    company = entity.recurring_company if entity.company_specific else None
    ledger_id(message)  # refuse a message that cannot key the ledger before waiting on anything
    schema = entity.schema or schema_for(client, entity)
    with spool.slot(entity.table_name, company, timeout=wait_for_other_refresh) as slot:
        run = SlotRun(entity, schema, company, client, warehouse, slot, guard or LoadGuard())
        replayed = run.replay_pending(discard=False)
        loaded = load_message(run, message, first_dequeued_at=first_dequeued_at)
    acknowledge(client, message, loaded.execution_id)
    load = loaded.load
    refresh = RefreshOutcome(
        entity=entity,
        company=company,
        mode=load.mode,
        package=_package(loaded),
        load=load,
        package_rows=loaded.rows,
        seconds={"download": loaded.download_seconds, "parse_and_load": loaded.load_seconds},
        replayed=tuple(replayed),
        fo_row_count=_count(client, entity, company, load),
        warnings=tuple(run.warnings),
        reconcile_reason=None,
        **({"drift": loaded.drift} if loaded.drift is not None else {}),
    )
    logger.info("%s %s: message %s: %d rows, %s", entity.name, company or "shared", message.correlation_id,
                loaded.rows, _fate(loaded))  # fmt: skip
    return MessageOutcome(
        message, refresh, loaded.already_applied, _status(client, message), superseded=loaded.superseded
    )


def _fate(loaded: MessageLoad) -> str:
    if loaded.already_applied:
        return "already loaded, acknowledged"
    if loaded.superseded:
        return "superseded by the latest full load, acknowledged"
    return "loaded and acknowledged"


def _count(
    client: D365Client, entity: EntityConfig, company: str | None, load: LoadResult
) -> int | str | None:
    """F&O's ``$count`` after a full load (as for the package API); None after a delta."""
    if load.mode is not RefreshMode.FULL:
        return None
    return fo_row_count(client, entity, company) if load.applied else "not compared: loaded before"


def _package(loaded: MessageLoad) -> ExportedPackage:
    return ExportedPackage(
        execution_id=loaded.execution_id,
        status=ExecutionStatus.SUCCEEDED,
        path=loaded.export.path,
        size_bytes=loaded.downloaded.size_bytes if loaded.downloaded else 0,
        download_seconds=loaded.download_seconds,
    )


def _status(client: D365Client, message: DequeuedMessage) -> str:
    """The message's status after the acknowledgement; optional, so a failure to tell is logged only."""
    try:
        return str(client.recurring.get_message_status(message.correlation_id))
    except D365Error as exc:
        logger.warning("could not get the status of message %s: %s", message.correlation_id, exc)
        return str(MessageStatus.UNKNOWN)
