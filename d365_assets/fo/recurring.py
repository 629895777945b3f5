"""The recurring integrations API (``/api/connector``): dequeue, download, acknowledge, message status.

Reached as ``D365Client(...).recurring``: the same connections, token, retries and errors as the
package API. Unlike a package's blob URL, a message's ``DownloadLocation`` is F&O's own and needs the
bearer token, so it is followed only on the environment's host: an ``http://`` location (load
balancers answer so) is rewritten to ``https://`` on the configured environment, never followed in
clear, and a location on any other host is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .blob import BlobDownload
from .errors import ApiError, RecurringMessageError
from .messages import (
    DequeuedMessage,
    MessageStatus,
    activity_id_error,
    is_guid,
    normalize_activity_id,
    parse_dequeue_response,
)
from .models import DownloadedFile
from .odata import odata_error
from .transport import FoTransport
from .urls import display_url

__all__ = ["RecurringClient"]

_FIX = (
    "check the activity id (Data management > Manage scheduled data jobs, column ID), that the job is a "
    "recurring export job that is enabled, and that the app (client id {client_id}) is on the job's "
    "authorization policy (its application ID, enabled)"
)


class RecurringClient:
    """Dequeue, download and acknowledge the messages of recurring export jobs of one environment."""

    def __init__(
        self,
        transport: FoTransport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._log = transport.log
        self._sleep, self._clock = sleep, clock
        parts = urlsplit(transport.environment_url)
        self._origin = f"https://{parts.netloc}"
        self._host = (parts.hostname or "").lower()
        self._port = parts.port or 443

    def dequeue(self, activity_id: str) -> DequeuedMessage | None:
        """``GET /api/connector/dequeue/{activityId}``: the next message, or None when the queue is empty.

        Sent once unless it certainly did nothing: a dequeue whose answer is lost hides its message
        until F&O's visibility timeout passes, and sending it again would take the next one.
        """
        activity = normalize_activity_id(activity_id)
        what = f"dequeue of recurring job {activity}"
        response = self._transport.send("GET", self._url("dequeue", activity), what=what, resend=False)
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise self._refused(what, response)
        return parse_dequeue_response(response.text, activity_id=activity)

    def download(self, message: DequeuedMessage, destination: Path) -> DownloadedFile | None:
        """Download the message's package to ``destination`` with the bearer token; None without a file.

        ``IsDownLoadFileExist: false`` (F&O uploaded no file) is a message without rows, not an error.
        The body streams to ``<destination>.part``, is checked like a package (size, zip) and resumed
        or fetched again when the connection drops.
        """
        if not message.file_exists:
            said = f" ({message.file_error})" if message.file_error else ""
            self._log.warning(f"message {message.correlation_id} has no file{said}: no rows")
            return None
        url = self.trusted_location(message)
        self._log.info(f"downloading message {message.correlation_id} to {destination}")
        return BlobDownload(
            self._transport.fo,
            fresh_url=lambda: url,
            destination=Path(destination),
            execution_id=f"message {message.correlation_id}",
            policy=self._transport.retry,
            log=self._log,
            sleep=self._sleep,
            clock=self._clock,
        ).run()

    def ack(self, message: DequeuedMessage) -> None:
        """``POST /api/connector/ack/{activityId}`` with the exact dequeue body: F&O forgets the message.

        Retried like any idempotent call; :class:`ApiError` when F&O keeps refusing, and the message
        comes back after the visibility timeout.
        """
        what = f"acknowledgement of message {message.correlation_id} of recurring job {message.activity_id}"
        url = self._url("ack", message.activity_id)
        response = self._transport.send("POST", url, what=what, content=message.body.encode("utf-8"))
        if response.status_code != 200:
            raise self._refused(what, response)

    def get_message_status(self, message_id: str) -> MessageStatus:
        """``GetMessageStatus`` of a message (its correlation id): a documented status name, or UNKNOWN."""
        if not is_guid(message_id):
            raise RecurringMessageError(
                f"message id {str(message_id)[:60]!r} is not a GUID; pass a message's correlation id"
            )
        value = self._transport.action("GetMessageStatus", {"messageId": normalize_activity_id(message_id)})
        return MessageStatus(str(value))

    def trusted_location(self, message: DequeuedMessage) -> str:
        """The download location as followed: https on the environment's host, or refused."""
        location = message.download_location or ""
        try:
            parts = urlsplit(location)
            port = parts.port
        except ValueError:
            parts, port = urlsplit(""), None
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if host != self._host or "@" in parts.netloc or scheme not in ("http", "https"):
            raise self._foreign(message, location)
        if scheme == "http":  # behind a load balancer F&O answers http://: the same place over https
            self._log.warning(
                f"message {message.correlation_id} has an http:// download location; fetching it over "
                f"https from {self._origin}"
            )
        elif (port or 443) != self._port:
            raise self._foreign(message, location)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self._origin}{parts.path}{query}"

    # -- helpers ---------------------------------------------------------------------------------

    def _url(self, verb: str, activity_id: str) -> str:
        if not is_guid(activity_id):
            raise activity_id_error(activity_id)
        return f"{self._origin}/api/connector/{verb}/%7B{activity_id.upper()}%7D"

    def _foreign(self, message: DequeuedMessage, location: str) -> RecurringMessageError:
        return RecurringMessageError(
            self._log.redact(
                f"message {message.correlation_id} of recurring job {message.activity_id} names a download "
                f"location outside the environment ({display_url(location)}; the environment is "
                f"{self._origin}); it was not fetched, since the access token would be sent there. Check "
                "D365_ENVIRONMENT_URL: it must be the environment F&O's own answers name"
            ),
            correlation_id=message.correlation_id,
        )

    def _refused(self, what: str, response: httpx.Response) -> ApiError:
        error = odata_error(response)
        detail = error.inner_message or error.message or "no details"
        fix = _FIX.format(client_id=self._transport.client_id)
        return ApiError(
            self._log.redact(f"{what} failed with HTTP {response.status_code} ({detail}); {fix}"),
            status_code=response.status_code,
            message=self._log.redact(error.message),
            inner_message=self._log.redact(error.inner_message),
            action=what,
        )
