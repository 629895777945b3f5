"""The client's connections: F&O (bearer token), the token authority (msal), blob storage (no token).

All three share one verifying TLS context and ``trust_env=False``. :class:`FoTransport` POSTs DMF
actions with bounded retries and GETs OData documents, turning every failure into our errors.

httpx logs each request with its URL (a package URL carries a SAS). One :class:`RedactingFilter`,
installed on httpx's logger when this module is imported, redacts those lines of SAS signatures,
bearer tokens and the secrets of the transports open at that moment: a transport's secrets are
forgotten when it closes (or is garbage collected unclosed), so nothing accumulates.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import httpx

from .auth import MsalAuth, MsalHttpClient
from .credentials import Credential
from .diagnosis import api_error
from .errors import ApiError, D365Error
from .odata import action_value
from .options import HttpOptions
from .redact import RedactingFilter, RedactingLog
from .retry import RETRYABLE_STATUS, RetryableResponse, never_ran, retrying
from .tls import ssl_context
from .urls import token_scope

__all__ = ["FoTransport", "open_transport_secrets"]

_ACTIONS = "data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
_ODATA_HEADERS = {"Accept": "application/json", "OData-Version": "4.0", "OData-MaxVersion": "4.0"}


class _OpenSecrets:
    """The secrets of the transports open now, for the one filter on httpx's logger.

    Holds each transport's ``secrets`` method weakly: an unclosed transport that is garbage
    collected drops out by itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys = itertools.count()
        self._sources: dict[int, weakref.WeakMethod[Callable[[], tuple[str, ...]]]] = {}

    def add(self, source: Callable[[], tuple[str, ...]]) -> int:
        with self._lock:
            key = next(self._keys)
            self._sources[key] = weakref.WeakMethod(source)
            return key

    def discard(self, key: int) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def __call__(self) -> tuple[str, ...]:
        with self._lock:
            dead = [key for key, ref in self._sources.items() if ref() is None]
            for key in dead:
                del self._sources[key]
            sources = [ref() for ref in self._sources.values()]
        return tuple(secret for source in sources if source is not None for secret in source())


_OPEN_SECRETS = _OpenSecrets()
logging.getLogger("httpx").addFilter(RedactingFilter(_OPEN_SECRETS))


def open_transport_secrets() -> tuple[str, ...]:
    """The secrets httpx's log lines are redacted of now: those of every open transport."""
    return _OPEN_SECRETS()


class FoTransport:
    """HTTP to one F&O environment, its authority and its blob storage, redacting every message.

    ``environment_url`` must be normalized (:func:`~d365_assets.fo.urls.normalize_environment_url`).
    """

    def __init__(
        self,
        *,
        environment_url: str,
        credential: Credential,
        options: HttpOptions,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.environment_url = environment_url
        self.client_id = credential.client_id
        self.retry = options.retry
        self._sleep, self._clock = sleep, clock
        common: dict[str, Any] = {
            "verify": ssl_context(options.ca_bundle),
            "trust_env": False,
            "proxy": options.proxy,
            "timeout": httpx.Timeout(options.timeout, connect=min(options.timeout, 30.0)),
        }
        self._authority: httpx.Client | None = None
        msal_http_client = options.msal_http_client
        if msal_http_client is None:
            self._authority = httpx.Client(**common)
            msal_http_client = MsalHttpClient(self._authority)
        self.auth = MsalAuth(
            credential,
            scope=token_scope(environment_url),
            http_client=msal_http_client,
            retry=self.retry,
            sleep=sleep,
            clock=clock,
        )
        self._fo = httpx.Client(auth=self.auth, transport=options.transport, headers=_ODATA_HEADERS, **common)
        # The blob client never carries credentials: the SAS in the URL is the authorisation.
        self.blob = httpx.Client(transport=options.blob_transport, follow_redirects=False, **common)
        self.log = RedactingLog(self.secrets)
        self._registration: int | None = _OPEN_SECRETS.add(self.secrets)

    def secrets(self) -> tuple[str, ...]:
        """The credential's secrets and the tokens handed out so far: what never shows."""
        return self.auth.secrets

    def close(self) -> None:
        """Close every connection pool, and stop redacting this transport's secrets from httpx's log."""
        self._fo.close()
        self.blob.close()
        if self._authority is not None:
            self._authority.close()
        if self._registration is not None:
            _OPEN_SECRETS.discard(self._registration)
            self._registration = None

    def action(self, action: str, body: dict[str, Any], *, resend: bool = True) -> Any:
        """POST the DMF ``action`` with ``body``; its ``value``, or :class:`ApiError` with the fix.

        Throttling, 5xx and dropped connections are retried. With ``resend=False`` (an action that
        must not run twice) only failures that certainly did nothing are: a connection never made,
        429 and 503. Any other failure raises at once, marked ``unanswered`` when F&O may have run it.
        """
        url = f"{self.environment_url}/{_ACTIONS}{action}"
        try:
            for attempt in retrying(
                self.retry,
                what=action,
                retry_if=None if resend else never_ran,
                sleep=self._sleep,
                clock=self._clock,
                secrets=self.secrets,
            ):
                with attempt:
                    response = self._fo.post(url, json=body)
                    if response.status_code in RETRYABLE_STATUS:
                        response.read()
                        raise RetryableResponse(response)
        except RetryableResponse as exc:
            raise self._api_error(action, exc.response, body, unanswered=not never_ran(exc)) from None
        except httpx.TransportError as exc:
            tries = f"{self.retry.max_attempts} attempts" if resend else "one attempt"
            raise self._unreachable(
                action, f"after {tries} ({type(exc).__name__}: {exc})", unanswered=not never_ran(exc)
            ) from None
        if response.status_code != 200:
            raise self._api_error(action, response, body)
        try:
            return action_value(response)
        except ValueError as exc:
            raise ApiError(
                self.log.redact(f"{action}: unexpected response from F&O: {exc}"),
                status_code=response.status_code,
                action=action,
            ) from None

    @property
    def fo(self) -> httpx.Client:
        """The F&O origin's client: it adds the bearer token (for a file F&O itself serves)."""
        return self._fo

    def send(
        self, method: str, url: str, *, what: str, content: bytes | None = None, resend: bool = True
    ) -> httpx.Response:
        """``method`` ``url`` on the F&O origin with the bearer token and bounded retries; the last answer.

        Throttling, 5xx and dropped connections are retried (with ``resend=False`` only those that
        certainly did nothing, as for :meth:`action`); any other status is the caller's to judge.
        """
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            for attempt in retrying(
                self.retry,
                what=what,
                retry_if=None if resend else never_ran,
                sleep=self._sleep,
                clock=self._clock,
                secrets=self.secrets,
            ):
                with attempt:
                    response = self._fo.request(method, url, content=content, headers=headers)
                    if response.status_code in RETRYABLE_STATUS:
                        response.read()
                        raise RetryableResponse(response)
        except RetryableResponse as exc:
            raise self._api_error(what, exc.response, unanswered=not never_ran(exc)) from None
        except httpx.TransportError as exc:
            tries = f"{self.retry.max_attempts} attempts" if resend else "one attempt"
            raise self._unreachable(
                what, f"after {tries} ({type(exc).__name__}: {exc})", unanswered=not never_ran(exc)
            ) from None
        if response.status_code == 401:
            raise self._api_error(what, response)
        return response

    def odata_get(self, path: str, *, what: str, accept: str, params: dict[str, str] | None = None) -> bytes:
        """GET ``<env>/data/<path>`` with the bearer token; the body, or ApiError naming ``what``."""
        url = f"{self.environment_url}/data/{path}"
        try:
            response = self._fo.get(url, params=params, headers={"Accept": accept})
        except httpx.TransportError as exc:
            raise ApiError(
                self.log.redact(f"{what}: could not reach F&O at {self.environment_url} ({exc})"), action=what
            ) from None
        if response.status_code != 200:
            raise self._api_error(what, response)
        return response.content

    def _api_error(
        self,
        action: str,
        response: httpx.Response,
        body: dict[str, Any] | None = None,
        *,
        unanswered: bool = False,
    ) -> D365Error:
        return api_error(
            action,
            response,
            body=body,
            client_id=self.client_id,
            redact=self.log.redact,
            unanswered=unanswered,
        )

    def _unreachable(self, action: str, how: str, *, unanswered: bool = False) -> ApiError:
        return ApiError(
            self.log.redact(
                f"{action}: could not reach F&O at {self.environment_url} {how}; check "
                "D365_ENVIRONMENT_URL, the network, and D365_CA_BUNDLE if a proxy or private CA "
                "signs the certificate"
            ),
            action=action,
            unanswered=unanswered,
        )
