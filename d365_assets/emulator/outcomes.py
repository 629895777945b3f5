"""How an export ends off the happy path: rows left out, a file too large, an execution id seen before.

F&O's own wording for each is unknown; the texts here are plausible stand-ins, and clients must not
depend on them (the emulator offers several for the duplicate id, see ``DUPLICATE_ID_ANSWERS``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = [
    "PACKAGE_OUTCOMES",
    "LeftOut",
    "duplicate_id_answer",
    "oversize_errors",
    "partial_errors",
]

PACKAGE_OUTCOMES = ("Succeeded", "PartiallySucceeded")
_PACKAGE_XML = ("Manifest.xml", "PackageHeader.xml")


class LeftOut:
    """Leaves a package's first ``count`` rows out: the records a PartiallySucceeded export failed."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.left_out = 0
        """How many rows were left out (fewer than ``count`` when the export had fewer rows)."""

    def apply(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        """``rows`` without the first ``count``."""
        for row in rows:
            if self.left_out < self.count:
                self.left_out += 1
                continue
            yield row


def partial_errors(label: str, left_out: int) -> str:
    """GetExecutionErrors of a PartiallySucceeded export (JSON list): how many records it left out."""
    return json.dumps(
        [f"Entity {label}: {left_out} record(s) could not be exported and are not in the package."]
    )


def oversize_errors(package: Path, limit: int | None) -> str | None:
    """GetExecutionErrors (JSON list) of an export whose data file is above ``limit`` bytes, else None."""
    if not limit:
        return None
    with zipfile.ZipFile(package) as archive:
        files = [info for info in archive.infolist() if info.filename not in _PACKAGE_XML]
    too_large = [info for info in files if info.file_size > limit]
    if not too_large:
        return None
    return json.dumps(
        [
            f"The exported file '{info.filename}' is {info.file_size:,} bytes, above the maximum export file "
            f"size of {limit:,} bytes. The export was stopped."
            for info in too_large
        ]
    )


def duplicate_id_answer(answer: str, *, failure: str, execution_id: str) -> tuple[int, str]:
    """(HTTP status, inner error message) of ExportToPackage refusing an execution id it knows.

    ``answer`` is one of ``DUPLICATE_ID_ANSWERS``; ``failure`` is DMF's generic "Export to package
    failed for definition group: ..." text. A 500 has no body at all (its message is empty).
    """
    if answer == "bare_500":
        return 500, ""
    if answer == "record_exists":
        return 400, (
            f"Cannot create a record in Execution summary (DMFExecution). Job ID: {execution_id}. "
            "The record already exists."
        )
    if answer == "export_failed":
        return 400, failure
    return 400, f"{failure}. Execution id {execution_id} already exists."
