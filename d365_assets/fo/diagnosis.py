"""Turning F&O's answers into our errors, each naming the cause and the fix.

The fix is chosen from the action, what was sent, the HTTP status and the status F&O reports, never
from F&O's wording: F&O's own messages are shown, never interpreted. Every text is redacted by the
caller's ``redact`` before it is raised.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .errors import ApiError, AuthenticationError, D365Error, ExecutionNotFoundError, ExportFailedError
from .models import ExecutionStatus
from .odata import odata_error

__all__ = ["api_error", "error_list", "export_failed", "fix_for"]

Redact = Callable[[str], str]

_REGISTER_APP = (
    "register the app (client id {client_id}) in F&O under System administration > Setup > "
    "Microsoft Entra applications, mapped to a user with data management rights; also check that "
    "D365_ENVIRONMENT_URL is the environment's exact URL"
)
_EXPORT_REFUSED = (
    "F&O refused to export data project {project!r} for legal entity {company!r}; check both: the "
    "data project must exist in F&O under exactly that name (Data management > Data projects, an "
    "export project holding the entity; or fix data_project in the catalog), and the legal entity "
    "must exist in F&O and be open to the app's user (or fix the company in the catalog's companies)"
)
_SHOWN_ERRORS = 5
_STATUS_ACTION = "GetExecutionSummaryStatus"
_SIZE_LIMIT = (
    "if F&O's messages speak of the file size: DMF limits an exported file to 256 MB by default, and "
    "to 5 GB once Azure Storage is set up for it in Data management > Framework parameters; set that "
    "up, or make the export smaller (a filter on the data project)"
)
_ENDED = {
    ExecutionStatus.FAILED: (
        "fix what F&O's messages point at (the data project or its data) and export again; " + _SIZE_LIMIT
    ),
    ExecutionStatus.CANCELED: (
        "the job was canceled in F&O (by a user, or its batch job was ended): export again, and if it "
        "happens again look for who or what cancels it under System administration > Batch jobs"
    ),
    ExecutionStatus.UNKNOWN: (
        "F&O does not say how it ended: look the execution up in F&O before trusting it, and export again"
    ),
}


def api_error(
    action: str,
    response: httpx.Response,
    *,
    client_id: str,
    redact: Redact,
    body: Mapping[str, Any] | None = None,
    unanswered: bool = False,
) -> D365Error:
    """The error for F&O answering ``action`` (sent with ``body``) with a status other than 200.

    ``unanswered`` marks an answer that leaves unknown whether F&O ran the action (a 5xx).
    """
    status = response.status_code
    if status == 401:
        return AuthenticationError(
            redact(
                f"{action}: F&O rejected the access token (HTTP 401) even after renewing it; "
                + _REGISTER_APP.format(client_id=client_id)
            )
        )
    error = odata_error(response)
    inner = error.inner_message
    detail = inner or error.message or f"HTTP {status}"
    cls: type[ApiError] = ApiError
    if status == 400 and action == _STATUS_ACTION:
        # The status action's one parameter is the execution id: a 400 is F&O not knowing it.
        cls = ExecutionNotFoundError
        fix = "F&O does not know the execution id (or not yet)"
    else:
        fix = fix_for(action, status, body or {})
    if status == 429:
        retry_after = response.headers.get("Retry-After", "?")
        fix = f"F&O is throttling (Retry-After {retry_after}s) and retries ran out; try again later"
    text = f"{action} failed with HTTP {status}: {detail}" + (f"; {fix}" if fix else "")
    return cls(
        redact(text),
        status_code=status,
        message=redact(error.message),
        inner_message=redact(inner),
        action=action,
        unanswered=unanswered,
    )


def fix_for(action: str, status: int, body: Mapping[str, Any]) -> str:
    """The advice for a failed action, from what was sent and the HTTP status, never F&O's wording."""
    if action in ("ExportToPackage", "ExportToPackageAsync") and status == 400:
        # F&O words an unknown data project and an unknown company alike: name both, as sent.
        return _EXPORT_REFUSED.format(
            project=body.get("definitionGroupId", ""), company=body.get("legalEntityId", "")
        )
    if status == 403:
        return "the F&O user mapped to the app lacks a role: grant it Data management access"
    if status == 404:
        return (
            "the action was not found: check D365_ENVIRONMENT_URL (the environment root URL; "
            "on-premises ends with /namespaces/AXSF)"
        )
    if status >= 500:
        return "F&O kept failing; retries ran out: try again later"
    return ""


def export_failed(
    execution_id: str, status: ExecutionStatus, *, errors: list[str], page: str, redact: Redact
) -> ExportFailedError:
    """The error for an export that ended ``status``, with F&O's first messages and where to look.

    The advice follows the status alone. A Failed export's advice always names DMF's file size limit
    as a possible cause: F&O reports it only in its own words, which are shown and never parsed.
    """
    shown = "; ".join(errors[:_SHOWN_ERRORS])
    if len(errors) > _SHOWN_ERRORS:
        shown += f" (+{len(errors) - _SHOWN_ERRORS} more)"
    where = f"see {page}" if page else "see Data management > Job history in F&O"
    text = (
        f"execution {execution_id} ended {status}"
        + (f": {shown}" if shown else " without error messages")
        + f"; {where} (execution id {execution_id}); "
        + _ENDED.get(status, _ENDED[ExecutionStatus.UNKNOWN])
    )
    return ExportFailedError(
        redact(text), execution_id=execution_id, status=str(status), errors=[redact(e) for e in errors]
    )


def error_list(value: Any) -> list[str]:
    """GetExecutionErrors' value: a JSON-encoded list (usually), a plain string, or a real list."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return [text]
    if isinstance(value, list):
        return [
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in value if item
        ]
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [json.dumps(value, ensure_ascii=False)]
