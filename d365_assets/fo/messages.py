"""The recurring integrations API's messages: activity ids, ``DequeueResponse`` read strictly, statuses.

A recurring data job in F&O exports on its own schedule and puts each result on a queue; a dequeue
answers one message as a ``DequeueResponse`` (capital L in ``IsDownLoadFileExist`` and
``FileDownLoadErrorMessage``, as F&O spells them). Activity ids and correlation ids are GUIDs: they
are checked before they are put in a URL, a file name or the load ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from d365_assets.guids import canonical_guid

from .errors import ActivityIdError, RecurringMessageError
from .models import ReportedStatus

__all__ = [
    "DequeuedMessage",
    "MessageStatus",
    "activity_id_error",
    "is_guid",
    "normalize_activity_id",
    "parse_dequeue_response",
]

_WHERE = "the ID column of Data management > Manage scheduled data jobs (the recurring data job's GUID)"


def is_guid(value: object) -> bool:
    """Whether ``value`` is a GUID, with or without (paired) braces."""
    return canonical_guid(value) is not None


def activity_id_error(value: object) -> ActivityIdError:
    """The error for an activity id that is not a GUID (the value shown shortened)."""
    shown = repr(str(value)[:60])
    return ActivityIdError(f"recurring activity id {shown} is not a GUID; copy it from {_WHERE}")


def normalize_activity_id(value: object) -> str:
    """An activity id as a GUID without braces, in lower case; :class:`ActivityIdError` otherwise."""
    guid = canonical_guid(value)
    if guid is None:
        raise activity_id_error(value)
    return guid


class MessageStatus(ReportedStatus):
    """``GetMessageStatus``'s answer, by the names F&O documents; anything else is ``UNKNOWN``."""

    ENQUEUED = "Enqueued"
    DEQUEUED = "Dequeued"
    ACKED = "Acked"
    PREPROCESSING = "Preprocessing"
    PROCESSING = "Processing"
    PROCESSED = "Processed"
    PREPROCESSING_ERROR = "PreProcessingError"
    PROCESSED_WITH_ERRORS = "ProcessedWithErrors"
    POST_PROCESSING_FAILED = "PostProcessingFailed"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class DequeuedMessage:
    """One message dequeued from a recurring export job's queue.

    ``body`` is the dequeue answer exactly as it came: the acknowledgement sends it back unchanged.
    Nothing in it is a secret (the download location needs the bearer token), so a message may travel
    in a run's tags; :meth:`to_json` and :meth:`from_json` carry it.
    """

    activity_id: str
    correlation_id: str
    """The message id (a GUID, lower case): the key of exactly-once loading."""
    pop_receipt: str
    download_location: str | None
    file_exists: bool
    """``IsDownLoadFileExist``: False when F&O uploaded no file (the message carries no rows)."""
    file_error: str
    last_dequeued: str | None
    """``LastDequeueDateTime``: None on a message's first delivery, then when it was last dequeued."""
    body: str

    @property
    def redelivered(self) -> bool:
        """Whether the message was dequeued before (and not acknowledged then)."""
        return self.last_dequeued is not None

    @property
    def delivery_key(self) -> str:
        """Unique per delivery: the correlation id and the previous dequeue time (a re-delivery differs)."""
        return f"{self.correlation_id}@{self.last_dequeued or 'first'}"

    def to_json(self) -> str:
        """The activity id and the exact dequeue body, as one JSON text."""
        return json.dumps({"activity_id": self.activity_id, "body": self.body})

    @classmethod
    def from_json(cls, text: str) -> DequeuedMessage:
        """A message from :meth:`to_json`'s text, checked as strictly as a dequeue answer."""
        try:
            carried = json.loads(text)
            activity_id, body = carried["activity_id"], carried["body"]
        except (ValueError, TypeError, KeyError):
            raise RecurringMessageError(
                "the recurring message carried by this run is not readable; launch runs of a recurring "
                "job from its sensor, which dequeues the message and carries it"
            ) from None
        return parse_dequeue_response(body, activity_id=activity_id)


_FIELDS: dict[str, tuple[type, ...]] = {
    "CorrelationId": (str,),
    "PopReceipt": (str,),
    "DownloadLocation": (str, type(None)),
    "IsDownLoadFileExist": (bool,),
    "FileDownLoadErrorMessage": (str, type(None)),
    "LastDequeueDateTime": (str, type(None)),
}


def parse_dequeue_response(body: str, *, activity_id: str) -> DequeuedMessage:
    """Read a ``DequeueResponse`` strictly: each field present with its JSON type, ids GUIDs.

    ``DownloadLocation`` may be null or empty only when ``IsDownLoadFileExist`` is false.
    """
    activity = normalize_activity_id(activity_id)
    document = _json_object(body, activity)
    problems = [_field_problem(document, name, kinds) for name, kinds in _FIELDS.items()]
    problems = [problem for problem in problems if problem]
    correlation = document.get("CorrelationId")
    if not problems and not is_guid(correlation):
        problems.append(f"CorrelationId {str(correlation)[:60]!r} is not a GUID")
    if not problems and document["IsDownLoadFileExist"] and not document["DownloadLocation"]:
        problems.append("IsDownLoadFileExist is true but DownloadLocation is empty")
    if not problems and not document["PopReceipt"]:
        problems.append("PopReceipt is empty")
    if problems:
        raise _unusable(activity, "; ".join(problems))
    return DequeuedMessage(
        activity_id=activity,
        correlation_id=normalize_activity_id(correlation),
        pop_receipt=document["PopReceipt"],
        download_location=document["DownloadLocation"] or None,
        file_exists=document["IsDownLoadFileExist"],
        file_error=document["FileDownLoadErrorMessage"] or "",
        last_dequeued=document["LastDequeueDateTime"] or None,
        body=body,
    )


def _json_object(body: str, activity: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise _unusable(activity, f"the answer is not JSON ({body[:80]!r})") from None
    if not isinstance(document, dict):
        raise _unusable(activity, "the answer is not a JSON object")
    return document


def _field_problem(document: dict[str, Any], name: str, kinds: tuple[type, ...]) -> str:
    if name not in document:
        return f"{name} is missing"
    value = document[name]
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        wanted = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        return f"{name} is {type(value).__name__}, not {wanted}"
    return ""


def _unusable(activity: str, problem: str) -> RecurringMessageError:
    return RecurringMessageError(
        f"the dequeue of recurring job {activity} answered a message that cannot be used: {problem}. "
        "Nothing was downloaded or acknowledged, so the message comes back after F&O's visibility "
        "timeout; check that D365_ENVIRONMENT_URL is the F&O environment itself (not a proxy that "
        "rewrites answers) and report the answer if it persists"
    )
