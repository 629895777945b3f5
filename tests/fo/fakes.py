"""In-process fakes for the F&O client's unit tests: an Entra authority, F&O, and a blob host."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx

from d365_assets.fo import ClientSecretCredential, D365Client, RetryPolicy
from d365_assets.fo.auth import MsalHttpClient

TENANT = "tenant-1"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "Sup3r-Secret-Value~42"
ENV = "https://fo.test"
AUTHORITY = "https://login.test"
BLOB = "https://blob.test"
SIG = "SIGabcDEF123secret%3D"


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def package_bytes(size: int = 5000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("PackageHeader.xml", "<x/>")
        archive.writestr("Data.csv", b"A" * size)
    return buffer.getvalue()


@dataclass
class FakeFinOps:
    """Scriptable fake of the three origins. Lists of scripted answers repeat their last item."""

    statuses: list[object] = field(default_factory=lambda: ["Executing", "Succeeded"])
    urls: list[str] = field(default_factory=lambda: [f"{BLOB}/dmf/pkg.zip?sv=2020&sr=b&sp=r&sig={SIG}"])
    errors_value: object = "[]"
    package: bytes = field(default_factory=package_bytes)
    secret: str = SECRET
    fo_faults: dict[str, list[httpx.Response]] = field(default_factory=dict)
    blob_faults: list[Callable[[httpx.Request], httpx.Response | None]] = field(default_factory=list)
    reject_tokens: set[str] = field(default_factory=set)
    export_answers: list[httpx.Response | Exception] = field(default_factory=list)
    """Answers to the next ExportToPackage calls, in order: a response, or an exception raised as the
    transport would (``httpx.ReadTimeout``: the answer never arrived). Then the default answer."""
    md5: bytes | None = None
    """The blob's stored MD5, sent as Azure does (``Content-MD5`` / ``x-ms-blob-content-md5``); None: none."""

    tokens_issued: list[str] = field(default_factory=list)
    fo_calls: list[tuple[str, dict, httpx.Headers]] = field(default_factory=list)
    blob_requests: list[httpx.Request] = field(default_factory=list)
    authority_requests: list[httpx.Request] = field(default_factory=list)

    # -- authority ---------------------------------------------------------------------------

    def authority(self, request: httpx.Request) -> httpx.Response:
        self.authority_requests.append(request)
        path = request.url.path
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            base = f"{AUTHORITY}/{TENANT}"
            return httpx.Response(
                200,
                json={
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                },
            )
        if path == f"/{TENANT}/oauth2/v2.0/token":
            form = parse_qs(request.content.decode())
            if form.get("client_secret") != [self.secret]:
                return httpx.Response(
                    401,
                    json={
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                        "error_codes": [7000215],
                    },
                )
            token = f"eyJtoken.{len(self.tokens_issued) + 1}.Zm9vYmFy"
            self.tokens_issued.append(token)
            return httpx.Response(
                200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": token}
            )
        return httpx.Response(404)

    # -- F&O ---------------------------------------------------------------------------------

    def fo(self, request: httpx.Request) -> httpx.Response:
        action = request.url.path.rsplit(".", 1)[-1]
        body = json.loads(request.content or b"{}")
        self.fo_calls.append((action, body, httpx.Headers(request.headers)))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens_issued or token in self.reject_tokens:
            return httpx.Response(401)
        faults = self.fo_faults.get(action)
        if faults:
            return faults.pop(0)
        if action == "ExportToPackage" and self.export_answers:
            answer = self.export_answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if action == "ExportToPackage":
            return ok(body["executionId"])
        if action == "GetExecutionSummaryStatus":
            answer = _next(self.statuses)
            if answer == "notfound":
                return not_found(body["executionId"])
            return ok(answer)
        if action == "GetExportedPackageUrl":
            return ok(_next(self.urls))
        if action == "GetExecutionErrors":
            return ok(self.errors_value)
        if action == "GetExecutionSummaryPageUrl":
            return ok(f"{ENV}/?mi=DMFExecutionSummary&id={body['executionId']}")
        return httpx.Response(404)

    # -- blob --------------------------------------------------------------------------------

    def blob(self, request: httpx.Request) -> httpx.Response:
        self.blob_requests.append(request)
        if self.blob_faults:
            answer = self.blob_faults.pop(0)(request)
            if answer is not None:
                return answer
        data = self.package
        start = 0
        md5 = base64.b64encode(self.md5).decode() if self.md5 is not None else None
        if "Range" in request.headers:
            start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
            headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
            headers = _with(headers, "x-ms-blob-content-md5", md5)
            return httpx.Response(206, content=data[start:], headers=headers)
        return httpx.Response(200, content=data, headers=_with({}, "Content-MD5", md5))

    # -- wiring ------------------------------------------------------------------------------

    def client(self, clock: FakeClock, **overrides: object) -> D365Client:
        options: dict[str, object] = {
            "environment_url": ENV + "/",
            "credential": ClientSecretCredential(TENANT, CLIENT_ID, self.secret, authority_host=AUTHORITY),
            "transport": httpx.MockTransport(self.fo),
            "blob_transport": httpx.MockTransport(self.blob),
            "msal_http_client": MsalHttpClient(httpx.Client(transport=httpx.MockTransport(self.authority))),
            "sleep": clock.sleep,
            "clock": clock,
            "poll_interval": 5.0,
            "poll_timeout": 600.0,
            "not_found_grace": 60.0,
            "url_timeout": 120.0,
            "retry": RetryPolicy(max_attempts=4, max_elapsed=120.0, initial_backoff=1.0, max_backoff=8.0),
        }
        options.update(overrides)
        return D365Client(**options)  # type: ignore[arg-type]


def md5_of(data: bytes) -> bytes:
    """The MD5 digest Azure stores for a blob holding ``data``."""
    return hashlib.md5(data, usedforsecurity=False).digest()


def _with(headers: dict[str, str], name: str, value: str | None) -> dict[str, str]:
    return {**headers, name: value} if value is not None else headers


def _next(script: list):
    return script.pop(0) if len(script) > 1 else script[0]


def ok(value: object) -> httpx.Response:
    return httpx.Response(
        200,
        json={"@odata.context": f"{ENV}/data/$metadata#Edm.String", "value": value},
        headers={"OData-Version": "4.0"},
    )


def odata_400(inner: str, message: str = "An error has occurred.") -> httpx.Response:
    return httpx.Response(
        400,
        json={
            "error": {
                "code": "",
                "message": message,
                "innererror": {
                    "message": inner,
                    "type": "System.InvalidOperationException",
                    "stacktrace": "",
                },
            }
        },
    )


def not_found(execution_id: str) -> httpx.Response:
    return odata_400(
        "Exception occurred while executing action GetExecutionSummaryStatus on Entity "
        f"DataManagementDefinitionGroup: Execution details were not found for execution id: {execution_id}"
    )
