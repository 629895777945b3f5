"""OData response shapes of the F&O endpoint: the primitive envelope and the error envelope."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

__all__ = ["MODEL_STATE_INVALID", "action_error", "envelope", "model_state_error", "unauthorized"]

MODEL_STATE_INVALID = "InvokeAction - Model state is invalid."
_HEADERS = {"OData-Version": "4.0"}
_MEDIA = "application/json; odata.metadata=minimal"


class _ODataJSON(JSONResponse):
    media_type = _MEDIA


def envelope(value: str, *, environment_url: str) -> Response:
    """HTTP 200 with ``{"@odata.context": ".../$metadata#Edm.String", "value": "<flat string>"}``."""
    body = {"@odata.context": f"{environment_url}/data/$metadata#Edm.String", "value": value}
    return _ODataJSON(body, headers=_HEADERS)


def _error(message: str, kind: str) -> Response:
    body = {
        "error": {
            "code": "",
            "message": "An error has occurred.",
            "innererror": {"message": message, "type": kind, "stacktrace": ""},
        }
    }
    return _ODataJSON(body, status_code=400, headers=_HEADERS)


def action_error(action: str, detail: str) -> Response:
    """HTTP 400: ``Exception occurred while executing action <A> on Entity DataManagementDefinitionGroup``."""
    where = f"action {action} on Entity DataManagementDefinitionGroup"
    message = f"Exception occurred while executing {where}: {detail}"
    return _error(message, "System.InvalidOperationException")


def model_state_error() -> Response:
    """HTTP 400 for a missing or mistyped action parameter."""
    return _error(MODEL_STATE_INVALID, "")


def unauthorized() -> Response:
    """HTTP 401 with an empty body, as F&O answers a missing, unknown or expired token."""
    return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
