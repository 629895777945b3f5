"""Result types of the F&O client."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = ["DownloadedFile", "ExecutionStatus", "ExportedPackage", "ReportedStatus"]


class ReportedStatus(StrEnum):
    """A status F&O reports by name: read case- and blank-insensitively; a name not listed is ``UNKNOWN``.

    Subclasses list the documented names and must have an ``UNKNOWN`` member.
    """

    @classmethod
    def _missing_(cls, value: object) -> ReportedStatus:
        wanted = str(value).strip().lower()
        return next((member for member in cls if member.value.lower() == wanted), cls["UNKNOWN"])


class ExecutionStatus(ReportedStatus):
    """``DMFExecutionSummaryStatus``: the value of ``GetExecutionSummaryStatus``.

    Any string F&O returns that is not one of the seven documented values parses as ``UNKNOWN``.
    """

    UNKNOWN = "Unknown"
    NOT_RUN = "NotRun"
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_pending(self) -> bool:
        """Still queued or running: keep polling."""
        return self in (ExecutionStatus.NOT_RUN, ExecutionStatus.EXECUTING)

    @property
    def produced_package(self) -> bool:
        """Ended with a package to download (``Succeeded`` or ``PartiallySucceeded``)."""
        return self in (ExecutionStatus.SUCCEEDED, ExecutionStatus.PARTIALLY_SUCCEEDED)


@dataclass(frozen=True)
class DownloadedFile:
    """A package downloaded to disk."""

    path: Path
    size_bytes: int
    seconds: float
    url_refreshes: int = 0
    """How many times a fresh SAS URL was requested after the blob host answered 403."""
    resumes: int = 0
    """How many times a dropped download was resumed with a ``Range`` request."""

    @property
    def mb_per_second(self) -> float:
        """Average download throughput in MB/s (10^6 bytes)."""
        return self.size_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ExportedPackage:
    """The outcome of :meth:`D365Client.export_package`: one export, waited for and downloaded."""

    execution_id: str
    status: ExecutionStatus
    path: Path
    size_bytes: int
    warnings: list[str] = field(default_factory=list)
    """F&O's ``GetExecutionErrors`` messages when the export ended ``PartiallySucceeded``."""
    export_wait_seconds: float = 0.0
    """From ``ExportToPackage`` to a final status and a package URL."""
    download_seconds: float = 0.0

    @property
    def timings(self) -> dict[str, float]:
        """Phase timings in seconds: ``{"export_wait": ..., "download": ...}``."""
        return {"export_wait": self.export_wait_seconds, "download": self.download_seconds}
