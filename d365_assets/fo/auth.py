"""Entra ID client-credentials authentication for F&O, as an :class:`httpx.Auth` hook.

Tokens come from :mod:`msal` (which caches them and renews them 5 minutes before expiry). msal talks
to the authority through :class:`MsalHttpClient`, an adapter over an :class:`httpx.Client` with the
client's own TLS context and ``trust_env=False``, so ``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` can
never change certificate verification.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msal

from .errors import AuthenticationError
from .redact import redact

__all__ = ["ClientSecretCredential", "MsalAuth", "MsalHttpClient"]

_log = logging.getLogger("d365_assets.fo")


@dataclass(frozen=True)
class ClientSecretCredential:
    """An Entra ID app registration's client-credentials secret. The secret never shows in ``repr``."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority_host: str = "https://login.microsoftonline.com"

    @property
    def authority(self) -> str:
        """The msal authority: ``<authority_host>/<tenant_id>``."""
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"


class MsalHttpClient:
    """Serves msal's ``get``/``post`` calls over an :class:`httpx.Client`.

    msal needs only ``get`` and ``post`` returning objects with ``status_code``, ``text``, ``headers``
    and ``raise_for_status()``, which :class:`httpx.Response` has. This adapter maps the
    requests-style keyword arguments msal passes onto httpx's.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> httpx.Response:
        return self._client.get(url, params=params, headers=headers, **_httpx_kwargs(kwargs))

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        if isinstance(data, Mapping):
            body["data"] = dict(data)
        elif data is not None:
            body["content"] = data
        if "json" in kwargs:
            body["json"] = kwargs.pop("json")
        return self._client.post(url, params=params, headers=headers, **body, **_httpx_kwargs(kwargs))

    def close(self) -> None:
        self._client.close()


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
        credential: ClientSecretCredential,
        *,
        scope: str,
        http_client: Any,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._http_client = http_client
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self._tokens: list[str] = []

    @property
    def secrets(self) -> tuple[str, ...]:
        """The client secret and every token handed out so far: the strings to redact."""
        return (self._credential.client_secret, *self._tokens)

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
            try:
                result = app.acquire_token_for_client(scopes=[self._scope])
            except (ValueError, httpx.HTTPError, msal.exceptions.MsalError) as exc:
                raise AuthenticationError(self._redact(self._unreachable(exc))) from None
            token = result.get("access_token") if isinstance(result, dict) else None
            if not token:
                raise AuthenticationError(self._redact(_token_error_text(result, self._credential)))
            if token not in self._tokens:
                self._tokens.append(token)
                del self._tokens[:-4]
            return token

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            credential = self._credential
            try:
                self._app = msal.ConfidentialClientApplication(
                    credential.client_id,
                    client_credential=credential.client_secret,
                    authority=credential.authority,
                    instance_discovery=False,
                    http_client=self._http_client,
                )
            except (ValueError, httpx.HTTPError) as exc:
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


def _token_error_text(result: Any, credential: ClientSecretCredential) -> str:
    result = result if isinstance(result, dict) else {}
    error = str(result.get("error") or "no access_token in the response")
    description = str(result.get("error_description") or "").split("\r\n")[0].split("\n")[0]
    codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
    if error == "invalid_client" or codes & {7000215, 7000222}:
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
