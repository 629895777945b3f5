"""Entra ID client-credentials authentication for F&O, as an :class:`httpx.Auth` hook.

Tokens come from :mod:`msal` (which caches them and renews them 5 minutes before expiry). msal talks
to the authority through :class:`MsalHttpClient`, an adapter over an :class:`httpx.Client` with the
client's own TLS context and ``trust_env=False``, so ``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` can
never change certificate verification; it refuses any URL that is not HTTPS before sending.

A throttled (429) or failing (5xx, unreachable) token endpoint is retried within the client's
:class:`~d365_assets.fo.retry.RetryPolicy`, honouring ``Retry-After``. msal itself caches such a
response for ``Retry-After`` seconds (5 without the header) and replays it without calling the
authority, so a retry never starts before that time has passed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx
import msal

from .credentials import ClientCertificateCredential, ClientSecretCredential, Credential
from .errors import AuthenticationError
from .redact import redact
from .retry import RetryPolicy
from .urls import require_https

__all__ = ["ClientCertificateCredential", "ClientSecretCredential", "MsalAuth", "MsalHttpClient"]

_log = logging.getLogger("d365_assets.fo")
_MSAL_DEFAULT_THROTTLE = 5.0
"""Seconds msal replays a 5xx token response without ``Retry-After`` from its cache."""
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class MsalHttpClient:
    """Serves msal's ``get``/``post`` calls over an :class:`httpx.Client`.

    msal needs only ``get`` and ``post`` returning objects with ``status_code``, ``text``, ``headers``
    and ``raise_for_status()``, which :class:`httpx.Response` has. This adapter maps the
    requests-style keyword arguments msal passes onto httpx's.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self.last_status: int | None = None
        """Status of the last response from the authority (msal's result dicts lack it)."""
        self.last_retry_after: str | None = None

    def _seen(self, response: httpx.Response) -> httpx.Response:
        self.last_status = response.status_code
        self.last_retry_after = response.headers.get("Retry-After")
        return response

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> httpx.Response:
        _require_https(url)
        return self._seen(self._client.get(url, params=params, headers=headers, **_httpx_kwargs(kwargs)))

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> httpx.Response:
        _require_https(url)  # e.g. a token_endpoint from the discovery document: the secret goes there
        body: dict[str, Any] = {}
        if isinstance(data, Mapping):
            # msal passes a certificate's client_assertion as bytes; httpx would send "b'...'".
            body["data"] = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        elif data is not None:
            body["content"] = data
        if "json" in kwargs:
            body["json"] = kwargs.pop("json")
        self.last_status, self.last_retry_after = None, None
        response = self._client.post(url, params=params, headers=headers, **body, **_httpx_kwargs(kwargs))
        return self._seen(response)

    def close(self) -> None:
        self._client.close()


def _require_https(url: str) -> None:
    require_https(
        url,
        what="the token authority's endpoint",
        fix="the authority (or its /.well-known/openid-configuration document) names a URL that is "
        "not HTTPS; check D365_AUTHORITY_HOST and the authority's configuration",
    )


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    # requests-only options (verify, proxies, allow_redirects, stream) are dropped: TLS and proxies
    # are fixed on the httpx.Client.
    return {"timeout": kwargs["timeout"]} if "timeout" in kwargs else {}


class MsalAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <token>`` for F&O; on a 401, renews the token once and retries.

    One :class:`msal.ConfidentialClientApplication` per instance, so msal's token cache is reused.
    ``scope`` is ``<environment origin>/.default``.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        credential: Credential,
        *,
        scope: str,
        http_client: Any,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._http_client = http_client
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self._tokens: list[str] = []

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credential's secrets and every token handed out so far: the strings to redact."""
        return (*self._credential.secrets, *self._tokens)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:
            _log.info("F&O answered 401; renewing the access token and retrying once")
            request.headers["Authorization"] = f"Bearer {self.token(force_refresh=True)}"
            yield request

    def token(self, *, force_refresh: bool = False) -> str:
        """An access token for F&O, from msal's cache when still valid."""
        with self._lock:
            app = self._application()
            if force_refresh:
                app.remove_tokens_for_client()
            token = self._acquire(app)
            if token not in self._tokens:
                self._tokens.append(token)
                del self._tokens[:-4]
            return token

    def _acquire(self, app: msal.ConfidentialClientApplication) -> str:
        """A token from msal, retrying a throttled or failing authority within the retry policy."""
        policy, started = self._retry, self._clock()
        for attempt in range(1, policy.max_attempts + 1):
            result: Any = None
            failure, raised = "", ""
            try:
                result = app.acquire_token_for_client(scopes=[self._scope])
            except (ValueError, httpx.HTTPError, msal.exceptions.MsalError) as exc:
                failure = self._unreachable(exc)
                if isinstance(exc, httpx.TransportError):
                    raised = "transport"
                elif isinstance(exc, msal.exceptions.MsalServiceError):
                    raised = "service"  # msal raises for a 5xx token response
                else:
                    raise AuthenticationError(self._redact(failure)) from None
            token = result.get("access_token") if isinstance(result, dict) else None
            if token:
                return str(token)
            failure = failure or _token_error_text(result, self._credential)
            wait = self._transient_wait(result, attempt, raised=raised)
            out_of_time = wait is not None and self._clock() - started + wait > policy.max_elapsed
            if wait is None or attempt == policy.max_attempts or out_of_time:
                if wait is not None:
                    failure += (
                        f" (gave up after {attempt} attempt(s): the authority is throttling or failing)"
                    )
                raise AuthenticationError(self._redact(failure))
            _log.warning(
                "%s",
                self._redact(
                    f"token request failed ({failure}); retrying in {wait:.1f}s (attempt {attempt + 1})"
                ),
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transient_wait(self, result: Any, attempt: int, *, raised: str) -> float | None:
        """Seconds to wait before retrying a failed token request, or None when it is permanent.

        ``raised`` is ``"transport"`` (unreachable), ``"service"`` (msal raised for a 5xx) or ``""``.
        """
        status = None if raised == "transport" else getattr(self._http_client, "last_status", None)
        error = str(result.get("error") or "") if isinstance(result, dict) else ""
        throttled = status == 429 or error in _TRANSIENT_ERRORS
        failing = bool(raised) or (status is not None and status >= 500)
        transport_failed = raised == "transport"
        if not (throttled or failing):
            return None
        policy = self._retry
        backoff = min(policy.initial_backoff * 2 ** (attempt - 1), policy.max_backoff)
        retry_after = getattr(self._http_client, "last_retry_after", None)
        if retry_after and str(retry_after).strip().isdigit():
            # msal replays the cached error for exactly Retry-After seconds: wait a little longer.
            return min(float(retry_after) + 0.25, policy.max_retry_after)
        if failing and not transport_failed:
            return max(backoff, _MSAL_DEFAULT_THROTTLE + 0.25)
        return backoff

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            credential = self._credential
            try:
                self._app = msal.ConfidentialClientApplication(
                    credential.client_id,
                    client_credential=credential.msal_credential(),
                    authority=credential.authority,
                    # Never ask login.microsoftonline.com about the authority (not even on the
                    # error path, see the module docs); AD FS is not an Entra instance at all.
                    instance_discovery=False,
                    validate_authority=not credential.is_adfs,
                    http_client=self._http_client,
                )
            except (ValueError, httpx.HTTPError, msal.exceptions.MsalError) as exc:
                raise AuthenticationError(self._redact(self._unreachable(exc))) from None
        return self._app

    def _unreachable(self, exc: Exception) -> str:
        return (
            f"could not get a token from authority {self._credential.authority}: {exc}. "
            "Check D365_TENANT_ID and D365_AUTHORITY_HOST (an https URL), the network, and "
            "D365_CA_BUNDLE if a proxy or private CA signs the authority's certificate"
        )

    def _redact(self, text: str) -> str:
        return redact(text, *self.secrets)


def _token_error_text(result: Any, credential: Credential) -> str:
    result = result if isinstance(result, dict) else {}
    error = str(result.get("error") or "no access_token in the response")
    description = str(result.get("error_description") or "").split("\r\n")[0].split("\n")[0]
    codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
    if isinstance(credential, ClientCertificateCredential) and (
        error == "invalid_client" or codes & {700027, 700024}
    ):
        fix = (
            "the certificate was refused: check that it is uploaded to the app registration (AD FS: the "
            "application group), that the thumbprint matches, and that it has not expired"
        )
    elif error == "invalid_client" or codes & {7000215, 7000222}:
        fix = "the client secret is wrong or expired: check D365_CLIENT_SECRET"
    elif error == "unauthorized_client" or codes & {700016}:
        fix = "the application was not found in the tenant: check D365_CLIENT_ID and D365_TENANT_ID"
    elif codes & {90002, 900023} or error == "invalid_tenant":
        fix = "the tenant was not found: check D365_TENANT_ID"
    elif error == "invalid_scope" or codes & {500011, 70011}:
        fix = (
            "the F&O environment is not a known resource in this tenant: check D365_ENVIRONMENT_URL "
            "(https://<env>.operations.dynamics.com, no trailing slash)"
        )
    else:
        fix = "check D365_TENANT_ID, D365_CLIENT_ID and D365_CLIENT_SECRET"
    detail = f"{error}: {description}" if description else error
    return (
        f"Entra ID refused a token for client {credential.client_id} in tenant {credential.tenant_id} "
        f"({detail}); {fix}"
    )
