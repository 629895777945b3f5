"""Durable emulator state in SQLite (WAL): tokens, executions, watermarks and the activity round.

Several processes may share one state directory, so every operation opens a short-lived
connection and writes in short ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExecutionExistsError", "ExecutionRecord", "Store", "connect_state", "write_state"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, audience TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    execution_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    entity TEXT,
    company TEXT,
    package_name TEXT NOT NULL,
    blob_name TEXT,
    outcome TEXT NOT NULL,
    errors TEXT NOT NULL,
    snapshot_round INTEGER NOT NULL,
    since_round INTEGER,
    created_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    executing_at REAL NOT NULL,
    done_at REAL NOT NULL,
    url_delay REAL NOT NULL,
    built_at REAL,
    row_count INTEGER);
CREATE INDEX IF NOT EXISTS executions_blob ON executions (blob_name);
CREATE TABLE IF NOT EXISTS watermarks (
    project TEXT NOT NULL, entity TEXT NOT NULL, company TEXT NOT NULL, round INTEGER NOT NULL,
    PRIMARY KEY (project, entity, company));
"""


class ExecutionExistsError(Exception):
    """An execution with this id already exists."""


@dataclass(frozen=True)
class ExecutionRecord:
    """One export execution as stored."""

    execution_id: str
    project: str
    entity: str | None
    """Collection name of the exported entity; None when the project is unknown (lenient mode)."""
    company: str | None
    package_name: str
    blob_name: str | None
    outcome: str
    errors: str
    """JSON-encoded list of error messages."""
    snapshot_round: int
    since_round: int | None
    """The watermark the delta starts after; None for a full export."""
    created_at: float
    visible_at: float
    executing_at: float
    done_at: float
    url_delay: float
    built_at: float | None = None
    row_count: int | None = None


_FIELDS = tuple(ExecutionRecord.__dataclass_fields__)


@contextmanager
def connect_state(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to ``state.sqlite`` (autocommit; closed after the block)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        yield conn
    finally:
        conn.close()


@contextmanager
def write_state(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``state.sqlite`` (``BEGIN IMMEDIATE``; rolled back on any error)."""
    with connect_state(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class Store:
    """Access to ``state.sqlite`` in the emulator's state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect_state(self.path)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_state(self.path)

    def initialise(self) -> None:
        """Create the schema (idempotent; call under the init lock)."""
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('round', '0'), ('epoch', ?)",
                (repr(time.time()),),
            )

    # -- activity rounds ---------------------------------------------------------------------

    @staticmethod
    def _round(conn: sqlite3.Connection, interval: float) -> int:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('round', 'epoch')").fetchall())
        manual = int(rows["round"])
        if interval > 0:
            manual += int((time.time() - float(rows["epoch"])) // interval)
        return manual

    def current_round(self, *, interval: float = 0.0) -> int:
        """The current activity round (manual rounds plus wall-clock rounds when ``interval`` > 0)."""
        with self._connect() as conn:
            return self._round(conn, interval)

    def add_rounds(self, rounds: int, *, interval: float = 0.0) -> int:
        """Advance the activity round counter; returns the new current round."""
        with self._write() as conn:
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'round'", (rounds,))
            return self._round(conn, interval)

    # -- tokens ------------------------------------------------------------------------------

    def save_token(self, token_hash: str, *, client_id: str, audience: str, expires_at: float) -> None:
        """Remember an issued access token (by hash) and drop long-expired ones."""
        with self._write() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at < ?", (time.time() - 86400,))
            conn.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
                (token_hash, client_id, audience, expires_at),
            )

    def get_token(self, token_hash: str) -> tuple[str, str, float] | None:
        """(client_id, audience, expires_at) of an issued token, or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT client_id, audience, expires_at FROM tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    # -- executions and watermarks -----------------------------------------------------------

    def register_export(
        self,
        record: ExecutionRecord,
        *,
        incremental: bool,
        watermark_moves: str = "succeeded",
        interval: float = 0.0,
    ) -> ExecutionRecord:
        """Store a new execution at the current round, reading (and maybe moving) the watermark atomically.

        The returned record carries the snapshot round and, for an incremental project that was
        exported before, the watermark its delta starts after. ``watermark_moves`` says when an
        export moves the watermark to its snapshot: ``accepted`` here and now, whatever its outcome;
        ``succeeded`` once it has ended Succeeded or PartiallySucceeded (settled here, and by
        :meth:`watermark`).
        """
        with self._write() as conn:
            if conn.execute(
                "SELECT 1 FROM executions WHERE execution_id = ?", (record.execution_id,)
            ).fetchone():
                raise ExecutionExistsError(record.execution_id)
            snapshot = self._round(conn, interval)
            since = None
            key = (record.project, record.entity or "", record.company or "")
            if incremental:
                since = self._settled_watermark(conn, key, now=record.created_at)
                moved = snapshot if watermark_moves == "accepted" else since
                if moved is not None:
                    conn.execute("INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?, ?)", (*key, moved))
            stored = ExecutionRecord(
                **{**record.__dict__, "snapshot_round": snapshot, "since_round": since}  # type: ignore[arg-type]
            )
            conn.execute(
                f"INSERT INTO executions ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
                tuple(getattr(stored, f) for f in _FIELDS),
            )
        return stored

    @staticmethod
    def _settled_watermark(conn: sqlite3.Connection, key: tuple[str, str, str], *, now: float) -> int | None:
        """The stored watermark, moved on to the snapshot of every execution that has succeeded by ``now``."""
        stored = conn.execute(
            "SELECT round FROM watermarks WHERE project = ? AND entity = ? AND company = ?", key
        ).fetchone()
        succeeded = conn.execute(
            "SELECT max(snapshot_round) FROM executions WHERE project = ? AND coalesce(entity, '') = ? "
            "AND coalesce(company, '') = ? AND outcome IN ('Succeeded', 'PartiallySucceeded') "
            "AND built_at IS NOT NULL AND done_at <= ?",
            (*key, now),
        ).fetchone()
        rounds = [int(row[0]) for row in (stored, succeeded) if row is not None and row[0] is not None]
        return max(rounds) if rounds else None

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """An execution by id, or None."""
        return self._one("execution_id", execution_id)

    def execution_for_blob(self, blob_name: str) -> ExecutionRecord | None:
        """The execution whose package is stored as ``blob_name``, or None."""
        return self._one("blob_name", blob_name)

    def _one(self, column: str, value: str) -> ExecutionRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {', '.join(_FIELDS)} FROM executions WHERE {column} = ?", (value,)
            ).fetchone()
        return None if row is None else ExecutionRecord(*row)

    def mark_built(
        self,
        execution_id: str,
        *,
        row_count: int,
        built_at: float,
        outcome: str | None = None,
        errors: str | None = None,
    ) -> None:
        """Record that the execution's package is complete (and, if given, its final outcome and errors)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE executions SET built_at = ?, row_count = ?, outcome = coalesce(?, outcome), "
                "errors = coalesce(?, errors) WHERE execution_id = ?",
                (built_at, row_count, outcome, errors, execution_id),
            )

    def watermark(
        self, project: str, entity: str, company: str | None, *, now: float | None = None
    ) -> int | None:
        """The change-tracking watermark (round) of a project/entity/company at ``now``, or None if never
        moved: the exports that have succeeded by then count, even before the next export settles them."""
        with self._connect() as conn:
            key = (project, entity, company or "")
            return self._settled_watermark(conn, key, now=time.time() if now is None else now)
