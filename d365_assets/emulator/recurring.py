"""Recurring export jobs: F&O exports a data project on its own and queues each package.

The behaviour of ``/api/connector`` independent of HTTP: running a job (a full export first, then
the changes since the previous one when its project is change-tracked, through the same package
builder and watermarks as the package API), dequeue, download, acknowledge and ``GetMessageStatus``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .config import EmulatorConfig, RecurringJob
from .dmf import DmfError, DmfService, ModelStateError, require
from .faults import Fault, FaultStore
from .queue import MessageQueue, QueuedMessage
from .store import ExecutionRecord, Store

__all__ = ["ACK_FIELDS", "RecurringService", "guid"]

ACK_FIELDS = (
    "CorrelationId",
    "PopReceipt",
    "DownloadLocation",
    "IsDownLoadFileExist",
    "FileDownLoadErrorMessage",
    "LastDequeueDateTime",
)
"""The fields of a DequeueResponse, all of which an acknowledgement sends back."""
_GUID = re.compile(r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?")
_NO_FILE = "No file was uploaded for this message."


def guid(value: str) -> str | None:
    """A GUID (braces allowed) in lower case without braces, or None."""
    match = _GUID.fullmatch(value.strip())
    return match.group(1).lower() if match else None


class RecurringService:
    """The recurring jobs of one emulator, their queues in the shared state."""

    def __init__(
        self,
        *,
        config: EmulatorConfig,
        store: Store,
        dmf: DmfService,
        queue: MessageQueue,
        faults: FaultStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.jobs = {job.activity_id: job for job in config.recurring_jobs}
        self._store, self._dmf, self._queue, self._faults = store, dmf, queue, faults
        self._clock = clock

    def job(self, activity_id: str) -> RecurringJob:
        """The job with this activity id (braces and case do not matter); LookupError if unknown."""
        job = self.jobs.get(guid(activity_id) or "")
        if job is None:
            raise LookupError(activity_id)
        return job

    # -- exporting -------------------------------------------------------------------------------

    def run_job(self, activity_id: str) -> str:
        """One export of the job, queued as a message; returns the message id (its correlation id)."""
        job = self.job(activity_id)
        project = self._dmf.projects[job.project]
        entity = project.entity_def
        now = self._clock()
        company = (job.company or self._dmf.dataset.companies[0]).upper() if entity.company_specific else None
        missing = self._faults.take(("missing_file",)) is not None
        record = ExecutionRecord(
            execution_id=f"Recurring-{uuid.uuid4()}",
            project=job.project,
            entity=entity.name,
            company=company,
            package_name=f"{job.project}.zip",
            blob_name=f"recurring-{uuid.uuid4().hex}.zip",
            outcome="Succeeded",
            errors="[]",
            snapshot_round=0,
            since_round=None,
            created_at=now,
            visible_at=now,
            executing_at=now,
            done_at=now,
            url_delay=0.0,
        )
        stored = self._store.register_export(
            record,
            incremental=project.refresh == "incremental",
            watermark_moves=self.config.watermark_moves,
            interval=self.config.activity_interval_seconds,
        )
        rows = 0 if missing else self._dmf.build_package(stored)
        self._store.mark_built(stored.execution_id, row_count=rows, built_at=self._clock())
        message_id = str(uuid.uuid4())
        self._queue.put(
            message_id=message_id,
            activity_id=job.activity_id,
            execution_id=stored.execution_id,
            blob_name=None if missing else stored.blob_name,
            file_error=_NO_FILE if missing else "",
            now=self._clock(),
        )
        return message_id

    def run_due(self, activity_id: str) -> int:
        """Run the exports of the job its recurrence has made due; returns how many."""
        job = self.job(activity_id)
        if job.recurrence_seconds is None:
            return 0
        due = self._queue.due_runs(job.activity_id, now=self._clock(), every=job.recurrence_seconds)
        for _ in range(due):
            self.run_job(job.activity_id)
        return due

    # -- the connector API -----------------------------------------------------------------------

    def dequeue(self, activity_id: str, *, environment_url: str) -> dict[str, object] | None:
        """The next message of the job as a DequeueResponse, or None when its queue is empty."""
        job = self.job(activity_id)
        self.run_due(job.activity_id)
        found = self._queue.dequeue(
            job.activity_id,
            now=self._clock(),
            hide_for=self.config.recurring_visibility_seconds,
            retention=self.config.retention_seconds,
        )
        if found is None:
            return None
        message, previous = found
        location = None
        if message.blob_name is not None:
            blob = message.blob_name.removeprefix("recurring-").removesuffix(".zip")
            location = (
                f"{environment_url}/api/connector/download/%7B{job.activity_id.upper()}%7D"
                f"?correlation-id={message.message_id}&blob={blob}"
            )
            if self.config.recurring_http_locations:
                location = "http://" + location.removeprefix("https://")
        return {
            "CorrelationId": message.message_id,
            "PopReceipt": message.pop_receipt,
            "DownloadLocation": location,
            "IsDownLoadFileExist": message.blob_name is not None,
            "FileDownLoadErrorMessage": message.file_error,
            "LastDequeueDateTime": None if previous is None else _dotnet_time(previous),
        }

    def package_path(self, activity_id: str, *, correlation_id: str, blob: str) -> Path:
        """The package file a download location names; LookupError when there is none (any more)."""
        job = self.job(activity_id)
        message = self._queue.get(guid(correlation_id) or "")
        if message is None or message.activity_id != job.activity_id or message.blob_name is None:
            raise LookupError(correlation_id)
        if message.blob_name != f"recurring-{blob}.zip" or self._expired(message):
            raise LookupError(correlation_id)
        path = self._dmf.blob_path(message.blob_name)
        if not path.is_file():
            raise LookupError(correlation_id)
        return path

    def take_fault(self, kind: str) -> Fault | None:
        """Consume one firing of an active fault of ``kind`` (ack_fail, download_drop), or None."""
        return self._faults.take((kind,))

    def ack(self, activity_id: str, body: object) -> bool:
        """Acknowledge a message with its dequeue body; False when it is not the latest delivery's."""
        job = self.job(activity_id)
        if not isinstance(body, dict) or any(name not in body for name in ACK_FIELDS):
            raise ModelStateError
        correlation, receipt = body["CorrelationId"], body["PopReceipt"]
        if not isinstance(correlation, str) or not isinstance(receipt, str):
            raise ModelStateError
        message = self._queue.get(guid(correlation) or "")
        if message is None or message.activity_id != job.activity_id:
            return False
        twice = self._faults.take(("deliver_twice",)) is not None
        return self._queue.ack(message.message_id, receipt, now=self._clock(), keep=twice)

    def message_status(self, body: object) -> str:
        """GetMessageStatus: Enqueued, Dequeued or Acked for an export message."""
        message_id = str(require(body, {"messageId": str})["messageId"])
        message = self._queue.get(guid(message_id) or "")
        if message is None:
            raise DmfError(f"Message {message_id} was not found.")
        return message.status

    def waiting(self, activity_id: str) -> int:
        """Messages of the job not acknowledged yet."""
        return self._queue.waiting(self.job(activity_id).activity_id)

    def _expired(self, message: QueuedMessage) -> bool:
        return self._clock() > message.created_at + self.config.retention_seconds


def _dotnet_time(when: float) -> str:
    """A UTC time as F&O's JSON writes it, e.g. ``2026-03-01T14:05:00.1234567Z``."""
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
