"""The recurring jobs' message queues, in the emulator's SQLite state (shared by its processes).

A message is visible until dequeued, then hidden for the visibility timeout; unless it is
acknowledged it comes back (with a new pop receipt). Messages older than the retention are gone.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from .store import connect_state, write_state

__all__ = ["MessageQueue", "QueuedMessage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recurring_messages (
    message_id TEXT PRIMARY KEY, activity_id TEXT NOT NULL, seq INTEGER NOT NULL,
    execution_id TEXT NOT NULL, blob_name TEXT, file_error TEXT NOT NULL,
    created_at REAL NOT NULL, visible_at REAL NOT NULL, pop_receipt TEXT, last_dequeued_at REAL,
    status TEXT NOT NULL, redeliver INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS recurring_schedule (activity_id TEXT PRIMARY KEY, next_run_at REAL NOT NULL);
"""
_COLUMNS = (
    "message_id, activity_id, seq, execution_id, blob_name, file_error, created_at, visible_at, "
    "pop_receipt, last_dequeued_at, status, redeliver"
)


@dataclass(frozen=True)
class QueuedMessage:
    """One message as stored."""

    message_id: str
    activity_id: str
    seq: int
    execution_id: str
    blob_name: str | None
    """The package file; None when F&O uploaded no file."""
    file_error: str
    created_at: float
    visible_at: float
    pop_receipt: str | None
    last_dequeued_at: float | None
    status: str
    redeliver: int


class MessageQueue:
    """The queues of every recurring job, in ``state.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_state(self.path)

    def initialise(self) -> None:
        """Create the tables (idempotent)."""
        with connect_state(self.path) as conn:
            conn.executescript(_SCHEMA)

    def due_runs(self, activity_id: str, *, now: float, every: float, limit: int = 10) -> int:
        """How many scheduled exports of a job are due at ``now`` (and mark them taken)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT next_run_at FROM recurring_schedule WHERE activity_id = ?", (activity_id,)
            ).fetchone()
            next_run = now if row is None else float(row[0])
            due = 0
            while next_run <= now and due < limit:
                due += 1
                next_run += every
            next_run = max(next_run, now) if due == limit else next_run
            conn.execute("INSERT OR REPLACE INTO recurring_schedule VALUES (?, ?)", (activity_id, next_run))
        return due

    def put(self, *, message_id: str, activity_id: str, execution_id: str, blob_name: str | None,
            file_error: str, now: float) -> None:  # fmt: skip
        """Queue a new message at the end of its job's queue."""
        with self._write() as conn:
            (seq,) = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM recurring_messages WHERE activity_id = ?",
                (activity_id,),
            ).fetchone()
            conn.execute(
                f"INSERT INTO recurring_messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "
                "'Enqueued', 0)",
                (message_id, activity_id, seq, execution_id, blob_name, file_error, now, now),
            )

    def dequeue(
        self, activity_id: str, *, now: float, hide_for: float, retention: float, keep_visible: bool = False
    ) -> tuple[QueuedMessage, float | None] | None:
        """The first visible message of the job, hidden for ``hide_for`` seconds with a new pop receipt.

        Returns it with its previous dequeue time (None on its first delivery). ``keep_visible``
        leaves it visible (a queue delivering it twice).
        """
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM recurring_messages WHERE activity_id = ? AND status <> 'Acked' "
                "AND visible_at <= ? AND created_at > ? ORDER BY seq LIMIT 1",
                (activity_id, now, now - retention),
            ).fetchone()
            if row is None:
                return None
            message = QueuedMessage(*row)
            receipt = base64.b64encode(os.urandom(18)).decode()
            visible = now if keep_visible else now + hide_for
            conn.execute(
                "UPDATE recurring_messages SET visible_at = ?, pop_receipt = ?, last_dequeued_at = ?, "
                "status = 'Dequeued' WHERE message_id = ?",
                (visible, receipt, now, message.message_id),
            )
        return replace(message, pop_receipt=receipt, visible_at=visible), message.last_dequeued_at

    def get(self, message_id: str) -> QueuedMessage | None:
        """A message by id, or None."""
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM recurring_messages WHERE message_id = ?", (message_id,)
            ).fetchone()
        finally:
            conn.close()
        return None if row is None else QueuedMessage(*row)

    def ack(self, message_id: str, pop_receipt: str, *, now: float, keep: bool = False) -> bool:
        """Forget the message if ``pop_receipt`` is its latest; ``keep`` answers yes but lets it come back."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT pop_receipt FROM recurring_messages WHERE message_id = ?", (message_id,)
            ).fetchone()
            if row is None or row[0] != pop_receipt:
                return False
            if keep:
                conn.execute(
                    "UPDATE recurring_messages SET visible_at = ?, redeliver = redeliver + 1 "
                    "WHERE message_id = ?",
                    (now, message_id),
                )
            else:
                conn.execute(
                    "UPDATE recurring_messages SET status = 'Acked' WHERE message_id = ?", (message_id,)
                )
        return True

    def waiting(self, activity_id: str) -> int:
        """Messages of the job not acknowledged yet (visible or hidden)."""
        conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            (count,) = conn.execute(
                "SELECT count(*) FROM recurring_messages WHERE activity_id = ? AND status <> 'Acked'",
                (activity_id,),
            ).fetchone()
        finally:
            conn.close()
        return int(count)
