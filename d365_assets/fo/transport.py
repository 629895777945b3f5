"""The client's connections: F&O (bearer token), the token authority (msal), blob storage (no token).

All three share one verifying TLS context and ``trust_env=False``. :class:`FoTransport` POSTs DMF
actions with bounded retries and GETs OData documents, turning every failure into our errors.
"""

from __future__ import annotations

import logging
import time
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
from .retry import RETRYABLE_STATUS, RetryableResponse, retrying
from .tls import ssl_context
from .urls import token_scope

__all__ = ["FoTransport"]

_ACTIONS = "data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
_ODATA_HEADERS = {"Accept": "application/json", "OData-Version": "4.0", "OData-MaxVersion": "4.0"}
_HTTPX_FILTER = RedactingFilter()


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
        for secret in credential.secrets:
            _HTTPX_FILTER.add_secret(secret)
        logging.getLogger("httpx").addFilter(_HTTPX_FILTER)

    def secrets(self) -> tuple[str, ...]:
        """The credential's secrets and the tokens handed out so far: what never shows."""
        return self.auth.secrets

    def close(self) -> None:
        """Close every connection pool."""
        self._fo.close()
        self.blob.close()
        if self._authority is not None:
            self._authority.close()

    def action(self, action: str, body: dict[str, Any]) -> Any:
        """POST the DMF ``action`` with ``body``; its ``value``, or :class:`ApiError` with the fix."""
        url = f"{self.environment_url}/{_ACTIONS}{action}"
        try:
            for attempt in retrying(
                self.retry, what=action, sleep=self._sleep, clock=self._clock, secrets=self.secrets
            ):
                with attempt:
                    response = self._fo.post(url, json=body)
                    if response.status_code in RETRYABLE_STATUS:
                        response.read()
                        raise RetryableResponse(response)
        except RetryableResponse as exc:
            raise self._api_error(action, exc.response, body) from None
        except httpx.TransportError as exc:
            raise self._unreachable(
                action, f"after {self.retry.max_attempts} attempts ({type(exc).__name__}: {exc})"
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
        self, action: str, response: httpx.Response, body: dict[str, Any] | None = None
    ) -> D365Error:
        return api_error(action, response, body=body, client_id=self.client_id, redact=self.log.redact)

    def _unreachable(self, action: str, how: str) -> ApiError:
        return ApiError(
            self.log.redact(
                f"{action}: could not reach F&O at {self.environment_url} {how}; check "
                "D365_ENVIRONMENT_URL, the network, and D365_CA_BUNDLE if a proxy or private CA "
                "signs the certificate"
            ),
            action=action,
        )
