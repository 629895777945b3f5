"""A recurring job's messages loaded inside a held spool slot: one message, or the whole queue.

F&O's messages do not say when their package was exported, so ordering against the package API's
full loads (reconciles) rests on two facts. A message was exported before anyone first dequeued it;
and a full export reads the rows after it was requested. So a message first dequeued before the
request of the latest full load committed for its table and company holds nothing newer than that
load: it is *superseded*, recorded in the ledger without its rows and acknowledged. Applying it
would bring back older values, and rows deleted in F&O since. A message still waiting on the queue
has not been dequeued yet, so a reconcile first loads every message the queue shows
(:func:`drain_queue`), then requests its export.

Both times are this deployment's clocks (the code server's for the sensor, Dagster's run storage's for
an earlier run, the run worker's for the request), never F&O's: a message counts as superseded only
when it was first dequeued at least :data:`CLOCK_MARGIN` before the request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from d365_assets.errors import D365AssetsError
from d365_assets.fo import (
    D365Client,
    D365Error,
    DequeuedMessage,
    DownloadedFile,
    RecurringMessageError,
    is_guid,
)
from d365_assets.loading import LoadRequest, LoadResult
from d365_assets.package import ColumnDrift
from d365_assets.refresh.slot_run import SlotRun
from d365_assets.schema import RefreshMode
from d365_assets.spool import SpooledExport

__all__ = [
    "CLOCK_MARGIN",
    "AckError",
    "MessageLoad",
    "acknowledge",
    "drain_queue",
    "ledger_id",
    "load_message",
]

logger = logging.getLogger(__name__)

LEDGER_PREFIX = "recurring-"
CLOCK_MARGIN = 1.0
"""Seconds by which the clocks of the sensor and of the run may disagree (NTP keeps them closer)."""


class AckError(D365AssetsError):
    """The message's rows are committed, but F&O did not take its acknowledgement."""


@dataclass(frozen=True)
class MessageLoad:
    """What loading one message did (before its acknowledgement)."""

    execution_id: str
    """The message's id in the load ledger (:func:`ledger_id`)."""
    export: SpooledExport
    load: LoadResult
    rows: int
    """Rows the message's entity file held (0 when nothing was read)."""
    drift: ColumnDrift | None
    downloaded: DownloadedFile | None
    """The package, or None when nothing was downloaded (loaded before, superseded, or no file)."""
    download_seconds: float
    load_seconds: float
    already_applied: bool
    """The ledger held the message already (a re-delivery after a crash)."""
    superseded: bool
    """A full load whose export was requested after the message was first dequeued holds its changes."""


def ledger_id(message: DequeuedMessage) -> str:
    """The ledger's execution id of a message: ``recurring-<correlation id>``, checked to be a GUID."""
    if not is_guid(message.correlation_id):
        raise RecurringMessageError(
            f"correlation id {message.correlation_id[:60]!r} is not a GUID, so it cannot key the load ledger "
            "or name a file; nothing was loaded"
        )
    return LEDGER_PREFIX + message.correlation_id.lower()


def load_message(run: SlotRun, message: DequeuedMessage, *, first_dequeued_at: float | None) -> MessageLoad:
    """Load ``message`` into the run's table, keyed by :func:`ledger_id`; the caller acknowledges it.

    ``first_dequeued_at``: when the message was first dequeued (``time.time()``), or None when unknown
    (then it is never taken for superseded).
    """
    entity, warehouse = run.entity, run.warehouse
    execution_id = ledger_id(message)
    export = SpooledExport(execution_id, entity.refresh, run.slot.folder / f"{execution_id}.zip")
    already = warehouse.has_applied(execution_id, table=entity.table_name)
    if already:
        export.path.unlink(missing_ok=True)  # a download a crash left after the commit
    superseded = not already and _superseded(run, message, first_dequeued_at)
    started = time.perf_counter()
    downloaded = None if already or superseded else run.client.recurring.download(message, export.path)
    download_seconds, started = time.perf_counter() - started, time.perf_counter()
    drift: ColumnDrift | None = None
    rows = 0
    if downloaded is not None:
        load, rows, drift = run.load_fresh(export)
    else:
        if not already and not superseded:
            run.warn(f"message {execution_id} has no file (F&O uploaded none): no rows")
        load = _without_rows(run, export, applied_before=already)
    return MessageLoad(
        execution_id=execution_id,
        export=export,
        load=load,
        rows=rows,
        drift=drift,
        downloaded=downloaded,
        download_seconds=download_seconds,
        load_seconds=time.perf_counter() - started,
        already_applied=already,
        superseded=superseded,
    )


def drain_queue(run: SlotRun, activity_id: str) -> list[LoadResult]:
    """Load and acknowledge, in queue order, every message the job's queue shows now; their loads.

    A reconcile calls this before requesting its export, so no message exported before it is loaded
    after it. A message that fails to load stops the reconcile (it comes back after F&O's visibility
    timeout); one whose acknowledgement F&O refuses raises :class:`AckError` (its rows are committed).
    When the queue cannot be read, the reconcile goes on with a warning.
    """
    loads = []
    while (message := _dequeue(run, activity_id)) is not None:
        loaded = load_message(run, message, first_dequeued_at=time.time())
        acknowledge(run.client, message, loaded.execution_id)
        logger.info("%s %s: loaded queued message %s of recurring job %s before the full export",
                    run.entity.name, run.who, message.correlation_id, activity_id)  # fmt: skip
        loads.append(loaded.load)
    return loads


def _dequeue(run: SlotRun, activity_id: str) -> DequeuedMessage | None:
    """The queue's next message; None when it is empty or cannot be read (warned about)."""
    try:
        return run.client.recurring.dequeue(activity_id)
    except D365Error as exc:
        run.warn(
            f"the queue of recurring job {activity_id} could not be read before the full export ({exc}); "
            "a message it still holds loads after this full load, and may bring back older values"
        )
        return None


def acknowledge(client: D365Client, message: DequeuedMessage, execution_id: str) -> None:
    """Acknowledge a message whose load committed; :class:`AckError` when F&O does not take it."""
    try:
        client.recurring.ack(message)
    except D365Error as exc:
        raise AckError(
            f"the rows of message {message.correlation_id} (recurring job {message.activity_id}) are "
            f"loaded and committed as execution {execution_id}, but F&O did not take the "
            f"acknowledgement: {exc}. Nothing more to do: F&O delivers the message again after its "
            "visibility timeout (30 minutes), and it is then recognised as loaded and acknowledged"
        ) from exc


def _superseded(run: SlotRun, message: DequeuedMessage, first_dequeued_at: float | None) -> bool:
    """Whether the latest full load holds the message's changes (warned about when it does)."""
    full = run.slot.last_full_requested_at
    if first_dequeued_at is None or full is None or first_dequeued_at + CLOCK_MARGIN > full:
        return False
    run.warn(
        f"message {message.correlation_id} was first dequeued at {_utc(first_dequeued_at)}, before the "
        f"full export loaded last was requested ({_utc(full)}): that load holds its changes, so it is "
        "acknowledged without loading its rows (they would bring back older values, and rows deleted since)"
    )
    return True


def _without_rows(run: SlotRun, export: SpooledExport, *, applied_before: bool) -> LoadResult:
    """The load of a message with no rows to read: loaded before, superseded, or without a file.

    It records an empty delta (never a full load: it would empty the table), so a re-delivery of
    the message is recognised too.
    """
    entity = run.entity
    return run.warehouse.load(
        LoadRequest(
            entity=entity.name,
            table=entity.table_name,
            schema=run.schema,
            batches=iter(()),
            company=run.company,
            mode=export.mode if applied_before else RefreshMode.DELTA,
            natural_key=entity.natural_key,
            execution_id=export.execution_id,
            package_bytes=0,
            guard=run.guard,
        )
    )


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
