"""Azure Blob Storage's error responses, as the blob origin sends them.

The body is XML in UTF-8 that starts with a byte-order mark (``EF BB BF``), then the declaration:
``<?xml version="1.0" encoding="utf-8"?><Error><Code>..</Code><Message>..</Message></Error>``. The
message ends with the request id and time; the code is also in ``x-ms-error-code``.
"""

from __future__ import annotations

import codecs
import datetime as dt
import uuid
from collections.abc import Mapping
from xml.sax.saxutils import escape

from starlette.responses import Response

from .sas import SAS_VERSION

__all__ = ["storage_error"]


def storage_error(
    status: int, code: str, message: str, *, detail: str = "", headers: Mapping[str, str] | None = None
) -> Response:
    """An error response with Azure Storage's XML body (BOM first) and headers."""
    now = dt.datetime.now(dt.UTC)
    request_id = str(uuid.uuid4())
    text = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{escape(message)}\nRequestId:{request_id}\n"
        f"Time:{now:%Y-%m-%dT%H:%M:%S.%f}0Z</Message>"
    )
    if detail:
        text += f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>"
    text += "</Error>"
    sent = {"x-ms-error-code": code, "x-ms-request-id": request_id, "x-ms-version": SAS_VERSION}
    return Response(
        codecs.BOM_UTF8 + text.encode("utf-8"),
        status_code=status,
        media_type="application/xml",
        headers=sent | dict(headers or {}),
    )
