"""Table maintenance: compact small files, then vacuum the files no version within the retention needs.

Each load writes at least one file per company; compaction rewrites them into fewer, larger ones (a
commit that changes no row). Vacuum deletes files that no version younger than the retention reads:
readers holding an older snapshot, and time travel further back, lose them, so keep the retention
longer than the longest read (Delta's default is 7 days).
"""

from __future__ import annotations

from dataclasses import dataclass

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from d365_assets.lake.config import LakeConfig, storage_failure
from d365_assets.lake.errors import LakeStorageError

__all__ = ["DEFAULT_RETENTION_HOURS", "MaintenanceResult", "maintain_table"]

DEFAULT_RETENTION_HOURS = 168
"""Vacuum keeps the files of the last 7 days' versions (Delta's default)."""


@dataclass(frozen=True)
class MaintenanceResult:
    """What maintenance did to one table."""

    table_uri: str
    files_compacted: int
    """Files compaction replaced (0: nothing to compact)."""
    files_written: int
    files_vacuumed: int
    version: int


def maintain_table(config: LakeConfig, table: str, *, retention_hours: int) -> MaintenanceResult | None:
    """Compact and vacuum ``table``; None when it does not exist (nothing loaded yet)."""
    uri = config.table_uri(table)
    try:
        delta = DeltaTable(uri, storage_options=config.storage_options())
    except TableNotFoundError:
        return None
    try:
        metrics = delta.optimize.compact()
        vacuumed = delta.vacuum(
            retention_hours=retention_hours,
            dry_run=False,
            enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
        )
    except (DeltaError, OSError) as exc:
        raise LakeStorageError(
            f"maintenance of Delta table {uri}: {config.redact(storage_failure(str(exc)))}. The table is "
            f"unchanged or compacted (a compaction changes no row); the next maintenance run tries again."
        ) from None
    return MaintenanceResult(
        table_uri=uri,
        files_compacted=int(metrics.get("numFilesRemoved", 0)),
        files_written=int(metrics.get("numFilesAdded", 0)),
        files_vacuumed=len(vacuumed),
        version=delta.version(),
    )
