"""Reading F&O's OData action envelopes and error bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ODataError", "action_value", "odata_error"]


@dataclass(frozen=True)
class ODataError:
    """The parts of an OData v4 error body F&O fills in."""

    message: str
    inner_message: str


def action_value(response: httpx.Response) -> Any:
    """The ``value`` of a successful action response.

    F&O returns ``{"@odata.context": "...#Edm.String", "value": "<string>"}``. The documentation
    shows a nested ``{"value": {"value": "..."}}``, which real environments do not send but which is
    tolerated. Raises :class:`ValueError` when the body has no ``value``.
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the response is not JSON: {_snippet(response.text)!r}") from exc
    if not isinstance(body, dict) or "value" not in body:
        raise ValueError(f"the response has no 'value': {_snippet(response.text)!r}")
    value = body["value"]
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def odata_error(response: httpx.Response) -> ODataError:
    """The message and inner message of an error response; raw text when it is not OData JSON."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ODataError(message=_snippet(response.text), inner_message="")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ODataError(message=_snippet(response.text), inner_message="")
    inner = error.get("innererror") or error.get("innerError") or {}
    inner_message = inner.get("message", "") if isinstance(inner, dict) else ""
    return ODataError(message=str(error.get("message") or ""), inner_message=str(inner_message or ""))


def _snippet(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
