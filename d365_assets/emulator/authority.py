"""The token authority: Entra ID-like and AD FS-like, OIDC discovery and client-credentials tokens.

Entra ID (``/<tenant>/...``): the v2 discovery document and token endpoint, and the v1 token endpoint.
AD FS (``/adfs/...``, the authority of F&O on-premises): what msal asks of an authority whose tenant
is ``adfs`` (it skips instance discovery and ``/v2.0``): ``GET /adfs/.well-known/openid-configuration``,
then ``POST`` to the document's ``token_endpoint``, ``/adfs/oauth2/token/``. The same application
(client id, secret or certificate) is registered in both, as an AD FS application group would be.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .client_cert import ASSERTION_TYPE
from .credentials import Credentials
from .store import Store

__all__ = ["ADFS", "build_authority_app", "token_hash"]

ADFS = "adfs"
"""The AD FS authority's path (msal's convention: the tenant ``adfs`` means AD FS)."""


def token_hash(token: str) -> str:
    """The key under which an access token is stored (tokens themselves are never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _aad_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\n"
            f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
        ),
        "error_codes": [code],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": "https://login.microsoftonline.com/error?code=" + str(code),
    }
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store, no-cache"})


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return unquote(user), unquote(password)


def build_authority_app(
    *,
    credentials: Credentials,
    store: Store,
    origin: Callable[[], str],
    token_lifetime: int,
    assertion_check: Callable[[str, str], str | None] | None = None,
) -> Starlette:
    """The authority's ASGI app; ``origin`` returns its own https origin once the port is known.

    ``assertion_check(client_assertion, token_endpoint_url)`` returns why a certificate credential's
    JWT is refused (None: accepted); without it only client secrets are accepted.
    """
    authority = _Authority(credentials, store, origin, token_lifetime, assertion_check)
    return Starlette(
        routes=[
            Route(f"/{ADFS}/.well-known/openid-configuration", authority.adfs_configuration, methods=["GET"]),
            Route(f"/{ADFS}/oauth2/token", authority.token_adfs, methods=["POST"]),
            Route(f"/{ADFS}/oauth2/token/", authority.token_adfs, methods=["POST"]),
            Route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                authority.openid_configuration,
                methods=["GET"],
            ),
            Route("/{tenant}/oauth2/v2.0/token", authority.token_v2, methods=["POST"]),
            Route("/{tenant}/oauth2/token", authority.token_v1, methods=["POST"]),
        ]
    )


class _Authority:
    """The routes of one tenant's authority."""

    def __init__(
        self,
        credentials: Credentials,
        store: Store,
        origin: Callable[[], str],
        token_lifetime: int,
        assertion_check: Callable[[str, str], str | None] | None,
    ) -> None:
        self.credentials = credentials
        self.store = store
        self.origin = origin
        self.token_lifetime = token_lifetime
        self.assertion_check = assertion_check

    def _tenant_refused(self, tenant: str) -> JSONResponse | None:
        if tenant.lower() in (self.credentials.tenant_id.lower(), "organizations"):
            return None
        return _aad_error(
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud.",
        )

    async def openid_configuration(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if refused := self._tenant_refused(tenant):
            return refused
        base = f"{self.origin()}/{tenant}"
        return JSONResponse(
            {
                "issuer": f"{self.origin()}/{self.credentials.tenant_id}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
            }
        )

    async def adfs_configuration(self, _request: Request) -> Response:
        """AD FS's discovery document (the keys msal reads, and the usual others)."""
        base = f"{self.origin()}/{ADFS}"
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/oauth2/authorize/",
                "token_endpoint": f"{base}/oauth2/token/",
                "jwks_uri": f"{base}/discovery/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                    "private_key_jwt",
                    "windows_client_authentication",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                "subject_types_supported": ["pairwise"],
                "scopes_supported": ["openid", "profile", "email", "allatclaims", "user_impersonation"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                "userinfo_endpoint": f"{base}/userinfo",
                "end_session_endpoint": f"{base}/oauth2/logout",
            }
        )

    async def token_v2(self, request: Request) -> Response:
        return await self._token(request, shape="v2")

    async def token_v1(self, request: Request) -> Response:
        return await self._token(request, shape="v1")

    async def token_adfs(self, request: Request) -> Response:
        return await self._token(request, shape=ADFS)

    async def _token(self, request: Request, *, shape: str) -> Response:
        """A client-credentials token in ``shape``: Entra's ``v2`` or ``v1``, or AD FS's."""
        tenant = request.path_params.get("tenant", ADFS)
        if shape != ADFS and (refused := self._tenant_refused(tenant)):
            return refused
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        basic = _basic_credentials(request)
        client_id = fields.get("client_id") or (basic[0] if basic else "")
        secret = fields.get("client_secret") or (basic[1] if basic else "")
        refused = await self._client_refused(
            request, fields, tenant=tenant, client_id=client_id, secret=secret
        )
        if refused:
            return _adfs_error(refused) if shape == ADFS else refused
        audience = _adfs_audience(fields) if shape == ADFS else _audience(fields, v1=shape == "v1")
        if isinstance(audience, Response):
            return audience
        return await self._issue(client_id=client_id, audience=audience, shape=shape)

    async def _client_refused(
        self, request: Request, fields: dict[str, str], *, tenant: str, client_id: str, secret: str
    ) -> JSONResponse | None:
        """Why the grant, the app or its credential is refused (None: accepted)."""
        if fields.get("grant_type") != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type. Only client_credentials is enabled here.",
            )
        if client_id != self.credentials.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
                "This can happen if the application has not been installed by the administrator of the "
                "tenant or consented to by any user in the tenant.",
            )
        assertion = fields.get("client_assertion", "")
        if assertion and self.assertion_check is not None:
            endpoint = f"{self.origin()}{request.url.path}"
            problem = await run_in_threadpool(self.assertion_check, assertion, endpoint)
            if fields.get("client_assertion_type") != ASSERTION_TYPE:
                problem = f"client_assertion_type must be {ASSERTION_TYPE}."
            return _aad_error(401, "invalid_client", 700027, problem) if problem else None
        if not secret or not hmac.compare_digest(secret.encode(), self.credentials.client_secret.encode()):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        return None

    async def _issue(self, *, client_id: str, audience: str, shape: str) -> Response:
        """A fresh access token for ``audience``, stored by its hash, in the response ``shape``."""
        access_token = secrets.token_urlsafe(48)
        now = time.time()
        lifetime = self.token_lifetime
        await run_in_threadpool(
            self.store.save_token,
            token_hash(access_token),
            client_id=client_id,
            audience=audience,
            expires_at=now + lifetime,
        )
        if shape == ADFS:  # AD FS: a lower-case token type, no ext_expires_in
            body: dict[str, object] = {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": lifetime,
            }
        elif shape == "v1":
            body = {
                "token_type": "Bearer",
                "expires_in": str(lifetime),
                "ext_expires_in": str(lifetime),
                "expires_on": str(int(now) + lifetime),
                "not_before": str(int(now)),
                "resource": audience,
                "access_token": access_token,
            }
        else:
            body = {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": access_token,
            }
        return JSONResponse(body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def _audience(fields: dict[str, str], *, v1: bool) -> str | JSONResponse:
    """The token's audience: v1's ``resource``, or v2's ``scope`` less ``/.default``; or the refusal."""
    if v1:
        audience = fields.get("resource", "")
        if not audience:
            return _aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'resource'.",
            )
        return audience
    scope = fields.get("scope", "")
    if not scope:
        return _aad_error(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    if not scope.endswith("/.default") or " " in scope.strip():
        return _aad_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a "
            "scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    return scope[: -len("/.default")]


def _adfs_audience(fields: dict[str, str]) -> str | JSONResponse:
    """The audience of an AD FS token: ``resource`` (older clients), else ``scope`` less ``/.default``."""
    resource = fields.get("resource", "").strip()
    scope = fields.get("scope", "").strip()
    if resource:
        return resource
    if scope.endswith("/.default") and " " not in scope:
        return scope[: -len("/.default")]
    body = {
        "error": "invalid_scope",
        "error_description": f"The OAuth access token request has no usable resource or scope "
        f"({scope or 'none'}); ask for '<resource>/.default' or pass resource.",
    }
    return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})


def _adfs_error(entra: JSONResponse) -> JSONResponse:
    """An Entra-shaped refusal in AD FS's shape: ``error`` and a short ``error_description``, no codes."""
    refusal = json.loads(bytes(entra.body))
    description = str(refusal.get("error_description", "")).split("\r\n")[0].split(": ", 1)[-1]
    body = {"error": refusal.get("error", "invalid_request"), "error_description": description}
    return JSONResponse(body, status_code=entra.status_code, headers={"Cache-Control": "no-store"})
