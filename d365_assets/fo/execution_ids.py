"""Execution ids: the ones we make, and the check that any id is safe to become a file name.

An export's package is saved as ``<execution id>.zip`` (and noted as ``<execution id>.json``), so an
id F&O answers with must never reach outside the package folder. Ids are checked against a strict
pattern instead of being hashed into file names: the ids we send are always of that form, F&O
answers with the id it was sent, and a file named after its execution stays easy to find in F&O's
job history. An id that does not fit is refused before anything is written.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from .errors import UnsafeExecutionIdError
from .redact import redact

__all__ = ["MAX_EXECUTION_ID_LENGTH", "is_safe_execution_id", "new_execution_id", "package_file_name"]

MAX_EXECUTION_ID_LENGTH = 128
"""Longest id accepted: with ``.zip.part`` appended it stays far below any file system's name limit."""

_SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_WINDOWS_DEVICES = re.compile(r"(?i)(con|prn|aux|nul|com[0-9]|lpt[0-9])")
_PROJECT_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_SAFE_RULE = (
    "letters, digits, '_', '.' and '-' only, starting with a letter, digit or '_', no '..', "
    f"at most {MAX_EXECUTION_ID_LENGTH} characters"
)


def is_safe_execution_id(value: object) -> bool:
    """Whether ``value`` is an id that can name a file in the package folder and nothing else.

    Refused: separators (``/``, ``\\``), ``..``, NUL and other control characters, drive letters
    (``:``), spaces, a leading ``.`` or ``-``, a trailing ``.``, Windows device names (``CON``,
    ``NUL``, ...), the empty string, and anything over :data:`MAX_EXECUTION_ID_LENGTH` characters.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_EXECUTION_ID_LENGTH:
        return False
    if not _SAFE_ID.fullmatch(value) or ".." in value or value.endswith("."):
        return False
    return not _WINDOWS_DEVICES.fullmatch(value.split(".", 1)[0])


def shown(value: object) -> str:
    """An id for an error message: quoted, shortened to 80 characters."""
    text = str(value)
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def package_file_name(execution_id: str) -> str:
    """``<execution id>.zip``, or :class:`UnsafeExecutionIdError` when the id is not a safe file name."""
    if not is_safe_execution_id(execution_id):
        raise UnsafeExecutionIdError(
            f"execution id {shown(execution_id)} cannot name a package file safely ({_SAFE_RULE}); "
            "nothing was written. Use an id of that form (the client's own ids always are)",
            execution_id=str(execution_id)[:200],
        )
    return f"{execution_id}.zip"


def new_execution_id(data_project: str) -> str:
    """A fresh, unique, file-safe execution id: ``<project>-<UTC yyyymmddThhmmss>-<12 hex>``.

    Characters of the project name other than letters, digits, ``_`` and ``-`` become ``_``, and
    the project part is cut to 64 characters, so the id is always safe as a file name.
    """
    project = _PROJECT_UNSAFE.sub("_", data_project).lstrip("-")[:64] or "export"
    return f"{project}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"


def unsafe_answer_error(
    *, returned: object, sent: str, data_project: str, secrets: tuple[str, ...] = ()
) -> UnsafeExecutionIdError:
    """The error for ``ExportToPackage`` answering an id other than ``sent`` that is not file-safe."""
    text = (
        f"ExportToPackage of data project {data_project!r} answered execution id {shown(returned)} "
        f"instead of the id sent ({sent!r}); it cannot name a package file safely ({_SAFE_RULE}), so "
        "nothing was written or downloaded. F&O answers with another id than the one sent when parallel "
        "exports share one execution id, which the data management framework parameter 'Data project "
        "and job compatibility' set to No does: set it to Yes (Data management > Framework parameters). "
        "F&O may count this export as done: for a change-tracked (delta) entity, run its reconcile job "
        "once afterwards"
    )
    return UnsafeExecutionIdError(redact(text, *secrets), execution_id=redact(str(returned)[:200], *secrets))
