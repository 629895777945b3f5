"""ASGI middleware that injects the active faults (:mod:`.faults`) into the three origins."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .authority import token_hash
from .faults import FaultStore
from .odata import action_error, envelope
from .sas import sign_url
from .storage_errors import storage_error

__all__ = ["authority_faults", "blob_faults", "fo_faults"]

_ACTION = re.compile(
    r"^(?:/namespaces/AXSF)?/data/DataManagementDefinitionGroups/Microsoft\.Dynamics\.DataEntities\.(\w+)$"
)
_TOKEN = re.compile(r"^/[^/]+/oauth2/(?:v2\.0/)?token/?$")
_BLOB = re.compile(r"^/dmf/([^/]+)$")
_ODATA_HEADERS = {"OData-Version": "4.0"}


@dataclass
class _Captured:
    """A response produced by the wrapped app, held back so a fault can change it."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _capture(app: ASGIApp, scope: Scope, body: bytes) -> _Captured:
    captured = _Captured()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")

    await app(scope, _replay(body), send)
    return captured


async def _send_captured(captured: _Captured, send: Send) -> None:
    headers = [(k, v) for k, v in captured.headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(captured.body)).encode()))
    await send({"type": "http.response.start", "status": captured.status, "headers": headers})
    await send({"type": "http.response.body", "body": bytes(captured.body)})


def _origin(scope: Scope) -> str:
    host = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")
    return f"{scope.get('scheme', 'https')}://{host}"


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"null")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def fo_faults(app: ASGIApp, *, faults: FaultStore, sas_key: bytes) -> ASGIApp:
    """Wrap the F&O origin: throttling, 503, transient 400s, empty/expired package URLs, stalls."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        match = _ACTION.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await app(scope, receive, send)
            return
        action = match.group(1)
        body = await _read_body(receive)
        args = _json(body)
        fault = await run_in_threadpool(faults.take, ("throttle", "unavailable"), action=action)
        if fault is not None and fault.kind == "throttle":
            response: Response = JSONResponse(
                {"error": {"code": "", "message": fault.throttle_text}},
                status_code=429,
                headers={**_ODATA_HEADERS, "Retry-After": str(fault.retry_after)},
            )
            await response(scope, receive, send)
            return
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            response = JSONResponse(
                {"error": {"code": "", "message": "The service is unavailable."}},
                status_code=503,
                headers={**_ODATA_HEADERS, **headers},
            )
            await response(scope, receive, send)
            return
        if await run_in_threadpool(faults.take, ("lost_response",), action=action) is not None:
            await _capture(app, scope, body)  # the action runs; its answer never arrives
            started = [(b"content-length", b"64")]
            await send({"type": "http.response.start", "status": 200, "headers": started})
            return  # response started, never completed: the server closes the connection
        if action == "GetExecutionSummaryStatus":
            transient = await run_in_threadpool(faults.take, ("status_bad_request", "status_not_found"))
            if transient is not None:
                await _transient_400(transient.kind, str(args.get("executionId", "")))(scope, receive, send)
                return
        if action == "GetExportedPackageUrl":
            await _package_url(app, scope, body, send, faults=faults, sas_key=sas_key)
            return
        if action in ("ExportToPackage", "ExportToPackageAsync"):
            project = str(args.get("definitionGroupId", ""))
            await _export(app, scope, body, send, faults=faults, project=project)
            return
        await app(scope, _replay(body), send)

    return middleware


def _transient_400(kind: str, execution_id: str) -> Response:
    if kind == "status_not_found":
        detail = f"Execution details were not found for execution id: {execution_id}"
        return action_error("GetExecutionSummaryStatus", detail)
    body = {"error": {"code": "", "message": "Bad request"}}
    return JSONResponse(body, status_code=400, headers=_ODATA_HEADERS)


async def _package_url(
    app: ASGIApp, scope: Scope, body: bytes, send: Send, *, faults: FaultStore, sas_key: bytes
) -> None:
    captured = await _capture(app, scope, body)
    value = str(_json(bytes(captured.body)).get("value", "")) if captured.status == 200 else ""
    environment_url = _origin(scope)
    if value:
        if await run_in_threadpool(faults.take, ("empty_package_url",)) is not None:
            captured.body = bytearray(envelope("", environment_url=environment_url).body)
        else:
            answer = value
            fault = await run_in_threadpool(faults.take, ("sas_expiry",))
            if fault is not None:
                answer = _resign(answer, key=sas_key, seconds=fault.seconds)
            if await run_in_threadpool(faults.take, ("http_package_url",)) is not None:
                answer = "http://" + answer.removeprefix("https://")
            if answer != value:
                captured.body = bytearray(envelope(answer, environment_url=environment_url).body)
    elif captured.status == 200:
        await run_in_threadpool(faults.take, ("empty_package_url",))  # an empty answer counts too
    await _send_captured(captured, send)


def _resign(url: str, *, key: bytes, seconds: float) -> str:
    """The same blob's URL signed for a ``seconds`` window from now (<= 0: already expired)."""
    parts = urlsplit(url)
    blob = parts.path.rsplit("/", 1)[-1]
    now = dt.datetime.now(dt.UTC)
    return sign_url(f"{parts.scheme}://{parts.netloc}", blob, key=key, lifetime_seconds=seconds, now=now)


async def _export(
    app: ASGIApp, scope: Scope, body: bytes, send: Send, *, faults: FaultStore, project: str
) -> None:
    foreign = await run_in_threadpool(faults.take, ("foreign_execution_id",), project=project)
    if foreign is not None:  # F&O runs it under another id than the one sent ("": one of its own)
        body = json.dumps({**_json(body), "executionId": foreign.execution_id}).encode()
    captured = await _capture(app, scope, body)
    if captured.status == 200:
        execution_id = str(_json(bytes(captured.body)).get("value", ""))
        fault = await run_in_threadpool(faults.take, ("never_finish", "stay_not_run"), project=project)
        if fault is not None and execution_id:
            await run_in_threadpool(
                faults.stall_execution, execution_id, not_run=fault.kind == "stay_not_run"
            )
        ending = await run_in_threadpool(faults.take, ("end_as",), project=project)
        if ending is not None and execution_id:
            await run_in_threadpool(faults.end_execution, execution_id, status=ending.status)
    await _send_captured(captured, send)


def authority_faults(app: ASGIApp, *, faults: FaultStore) -> ASGIApp:
    """Wrap the authority: 429 on the token endpoints, tokens that die early."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _TOKEN.match(scope.get("path", "")):
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        fault = await run_in_threadpool(faults.take, ("token_throttle",))
        if fault is not None:
            await _token_throttled(fault.retry_after)(scope, receive, send)
            return
        captured = await _capture(app, scope, body)
        token = str(_json(bytes(captured.body)).get("access_token", "")) if captured.status == 200 else ""
        if token:
            expiry = await run_in_threadpool(faults.take, ("token_expiry",))
            if expiry is not None:
                await run_in_threadpool(
                    faults.expire_token, token_hash(token), expires_at=time.time() + expiry.seconds
                )
        await _send_captured(captured, send)

    return middleware


def _token_throttled(retry_after: int) -> Response:
    now = dt.datetime.now(dt.UTC)
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    description = (
        "AADSTS50196: The server terminated an operation because it encountered a client request loop. "
        f"Please contact your app vendor.\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\n"
        f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
    )
    body = {
        "error": "temporarily_unavailable",
        "error_description": description,
        "error_codes": [50196],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": trace,
        "correlation_id": correlation,
    }
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store, no-cache"}
    return JSONResponse(body, status_code=429, headers=headers)


def blob_faults(app: ASGIApp, *, faults: FaultStore) -> ASGIApp:
    """Wrap the blob origin: 503 ServerBusy, connections dropped mid-body, and a changed byte."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _BLOB.match(scope.get("path", "")):
            await app(scope, receive, send)
            return
        busy = await run_in_threadpool(faults.take, ("blob_unavailable",))
        if busy is not None:
            await _server_busy(busy.retry_after)(scope, receive, send)
            return
        try:
            await app(scope, receive, _dropping_send(_corrupting_send(send, faults=faults), faults=faults))
        except _Dropped:
            return  # response started, never completed: the server closes the connection

    return middleware


def _server_busy(retry_after: int) -> Response:
    return storage_error(
        503,
        "ServerBusy",
        "The server is busy.",
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )


class _Dropped(Exception):
    """Raised inside the wrapped app to stop it once the connection is to be dropped."""


def _dropping_send(send: Send, *, faults: FaultStore) -> Callable[[Message], Awaitable[None]]:
    """A ``send`` that, when a blob_drop fault fires on a 200/206, truncates the body and aborts."""
    state: dict[str, int | None] = {"limit": None, "sent": 0}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] in (200, 206):
                fault = await run_in_threadpool(faults.take, ("blob_drop",))
                if fault is not None:
                    headers = dict(message.get("headers", []))
                    length = int(headers.get(b"content-length", b"0") or 0)
                    state["limit"] = fault.after_bytes or length // 2
            await send(message)
            return
        limit = state["limit"]
        if limit is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunk = message.get("body", b"")
        room = limit - int(state["sent"] or 0)
        if len(chunk) >= room:
            if room > 0:
                await send({"type": "http.response.body", "body": chunk[:room], "more_body": True})
            raise _Dropped
        state["sent"] = int(state["sent"] or 0) + len(chunk)
        await send(message)

    return wrapped


def _corrupting_send(send: Send, *, faults: FaultStore) -> Callable[[Message], Awaitable[None]]:
    """A ``send`` that, when a blob_corrupt fault fires on a 200/206, changes one byte of the body."""
    state: dict[str, int | None] = {"at": None, "seen": 0}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] in (200, 206):
                fault = await run_in_threadpool(faults.take, ("blob_corrupt",))
                if fault is not None:
                    length = int(dict(message.get("headers", [])).get(b"content-length", b"0") or 0)
                    state["at"] = fault.after_bytes if 0 < fault.after_bytes < length else length // 2
            await send(message)
            return
        at, seen = state["at"], int(state["seen"] or 0)
        if at is not None and message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if seen <= at < seen + len(chunk):
                index = at - seen
                flipped = chunk[:index] + bytes([chunk[index] ^ 0xFF]) + chunk[index + 1 :]
                message = {**message, "body": flipped}
            state["seen"] = seen + len(chunk)
        await send(message)

    return wrapped
