"""Exports that are not loaded yet: noted as soon as F&O accepts them, kept until their load commits.

F&O advances its change-tracking watermark when it accepts an export, not when we load it. So an
export is noted here (a small JSON file named after its execution id) before anything waits on
F&O, its package is downloaded next to the note, and both go only after the load commits. A run
that dies while waiting, downloading or loading leaves the note; the next refresh of that entity
and company completes the download if needed (F&O keeps packages for 7 days) and loads it first.

A refresh holds one :class:`SpoolSlot` per table and company (``with spool.slot(table, company)``):
the slot says where each package goes, lists what earlier refreshes left, and forgets or sets aside
exports. Nothing else names a spooled file.

An export that must not be loaded (its package is damaged, or a held load is discarded) is set
aside, never deleted; when it was a delta, the table is marked so that its next refresh is a full
export (a reconcile), whatever happens in between.

The slot also keeps when the export behind its last full load was requested: a recurring job's
message dequeued before then holds nothing newer than that full load (see
:func:`d365_assets.refresh.queue.load_message`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from d365_assets.errors import D365AssetsError
from d365_assets.fo import is_safe_execution_id
from d365_assets.schema import RefreshMode

__all__ = ["PackageSpool", "SpoolError", "SpoolSlot", "SpooledExport"]

_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_SET_ASIDE = "set_aside"
_RECONCILE = ".needs-reconcile"
_LAST_FULL = ".last-full-requested"


class SpoolError(D365AssetsError):
    """The spool cannot be used: another refresh holds it too long, or a note is unreadable."""


@dataclass(frozen=True)
class SpooledExport:
    """An export F&O accepted whose rows are not loaded yet."""

    execution_id: str
    mode: RefreshMode
    path: Path
    """Where its package is (or will be) downloaded."""
    requested_at: float | None = None
    """When the export was requested (``time.time()``, just before ``ExportToPackage``); None when
    unknown (noted by an earlier version)."""

    @property
    def downloaded(self) -> bool:
        """Whether the package is already on disk."""
        return self.path.exists()

    @property
    def size_bytes(self) -> int:
        """The downloaded package's size."""
        return self.path.stat().st_size

    @property
    def note(self) -> Path:
        """The JSON file that records the export."""
        return self.path.with_suffix(".json")

    @property
    def age_seconds(self) -> float:
        """Seconds since the export was noted, that is since F&O accepted it."""
        return max(0.0, time.time() - self.note.stat().st_mtime)


class PackageSpool:
    """A folder of exports not loaded yet, one subfolder per table and company.

    ``scope`` names the F&O environment and the warehouse: exports noted for one pair are never
    loaded into another.
    """

    def __init__(self, root: str | Path, *, scope: str) -> None:
        self.root = Path(root)
        self.scope = scope
        self._base = self.root / hashlib.sha256(scope.encode()).hexdigest()[:16]

    @contextmanager
    def slot(self, table: str, company: str | None, *, timeout: float) -> Iterator[SpoolSlot]:
        """Hold one table and company, so two refreshes never apply its exports out of order."""
        folder = self._folder(table, company)
        try:
            with FileLock(folder / ".refresh.lock", timeout=timeout):
                yield SpoolSlot(folder, table=table, company=company)
        except Timeout:
            raise SpoolError(
                f"another refresh of {table} ({company or 'shared'}) has been running for over "
                f"{timeout:.0f} s; wait for it to finish (or end it) and run this one again"
            ) from None

    def _folder(self, table: str, company: str | None) -> Path:
        """The folder of one table and company (``_shared`` for shared entities), created on demand."""
        folder = self._base / _SAFE.sub("_", table) / _SAFE.sub("_", company or "_shared")
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            (self._base / "scope.txt").write_text(self.scope + "\n", encoding="utf-8")
        return folder


class SpoolSlot:
    """The exports of one table and company, held by one refresh (see :meth:`PackageSpool.slot`)."""

    def __init__(self, folder: Path, *, table: str, company: str | None) -> None:
        self.folder = folder
        self.table = table
        self.company = company

    def note(
        self, *, execution_id: str, mode: RefreshMode, requested_at: float | None = None
    ) -> SpooledExport:
        """Record an export F&O has just accepted, before waiting on it; its ``path`` is where to download.

        ``requested_at``: when the export was requested (``time.time()`` before the call).
        """
        if not is_safe_execution_id(execution_id):  # it names files here: never outside the folder
            raise SpoolError(
                f"execution id {execution_id[:80]!r} cannot name a file safely, so it was not noted; the "
                "F&O client refuses such ids before this point: please report it"
            )
        export = SpooledExport(
            execution_id=execution_id,
            mode=mode,
            path=self.folder / f"{execution_id}.zip",
            requested_at=requested_at,
        )
        temporary = export.note.with_suffix(".json.tmp")
        details: dict[str, object] = {"execution_id": execution_id, "mode": mode.value}
        if requested_at is not None:
            details["requested_at"] = requested_at
        temporary.write_text(json.dumps(details), encoding="utf-8")
        temporary.replace(export.note)
        return export

    def pending(self) -> list[SpooledExport]:
        """Exports that earlier refreshes did not finish loading, oldest first."""
        for partial in self.folder.glob("*.part"):  # an interrupted download restarts from scratch
            partial.unlink(missing_ok=True)
        return [
            self._read(note)
            for note in sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        ]

    def _read(self, note: Path) -> SpooledExport:
        try:
            details = json.loads(note.read_text(encoding="utf-8"))
            if details["execution_id"] != note.stem or not is_safe_execution_id(note.stem):
                raise ValueError("the execution id does not name this note")
            requested_at = details.get("requested_at")
            if requested_at is not None and not isinstance(requested_at, int | float):
                raise TypeError("requested_at is not a time")
            return SpooledExport(
                execution_id=details["execution_id"],
                mode=RefreshMode(details["mode"]),
                path=note.with_suffix(".zip"),
                requested_at=requested_at,
            )
        except (ValueError, KeyError, TypeError):
            raise SpoolError(
                f"{note} is not a readable export note; delete it (and its .zip) and run the "
                f"entity's reconcile job to reload the table in full"
            ) from None

    def remove(self, export: SpooledExport) -> None:
        """Forget an export once its rows are loaded (or once there is nothing to load)."""
        export.path.unlink(missing_ok=True)
        export.note.unlink(missing_ok=True)

    def set_aside(self, export: SpooledExport, *, reason: str) -> Path:
        """Move an export that must not be loaded (a damaged package, say) out of the way, never deleting it.

        Its package and note go to ``set_aside/`` beside them, with a ``.reason.txt``; a delta set aside
        is a lost delta, so the table is marked to be reconciled. Returns the folder.
        """
        folder = self.folder / _SET_ASIDE
        folder.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        for source in (export.path, export.note):
            if source.exists():
                source.replace(folder / f"{stamp}-{source.name}")
        (folder / f"{stamp}-{export.execution_id}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        if export.mode is RefreshMode.DELTA:
            self.require_reconcile(reason=f"delta {export.execution_id} was set aside: {reason}")
        return folder

    def require_reconcile(self, *, reason: str) -> None:
        """Note that this table and company lost a delta: only a full export makes it whole again."""
        (self.folder / _RECONCILE).write_text(reason + "\n", encoding="utf-8")

    @property
    def reconcile_reason(self) -> str | None:
        """Why this table and company must be reloaded in full before the next delta, or None."""
        marker = self.folder / _RECONCILE
        return marker.read_text(encoding="utf-8").strip() if marker.exists() else None

    def reconciled(self) -> None:
        """A full load committed: a lost delta is made good."""
        (self.folder / _RECONCILE).unlink(missing_ok=True)

    def full_load_committed(self, *, requested_at: float | None) -> None:
        """Keep when the export of a committed full load was requested (None: unknown, nothing kept),
        as :attr:`last_full_requested_at`, unless a later one is kept already."""
        if requested_at is None or requested_at <= (self.last_full_requested_at or 0.0):
            return
        temporary = self.folder / f"{_LAST_FULL}.tmp"
        temporary.write_text(f"{requested_at!r}\n", encoding="utf-8")
        temporary.replace(self.folder / _LAST_FULL)

    @property
    def last_full_requested_at(self) -> float | None:
        """When the export of the latest full load committed here was requested (``time.time()``), or
        None when no full load with a known request time has committed."""
        marker = self.folder / _LAST_FULL
        try:
            return float(marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            raise SpoolError(
                f"{marker} is not a readable time; delete it and run the entity's reconcile job"
            ) from None
