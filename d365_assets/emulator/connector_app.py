"""The recurring integrations API's routes on the F&O origin (behind its bearer check).

``GET /api/connector/dequeue/{activityId}``, ``GET /api/connector/download/{activityId}``,
``POST /api/connector/ack/{activityId}``; the activity id may come in braces (``%7B...%7D``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from .dmf import ModelStateError
from .odata import model_state_error
from .recurring import RecurringService

__all__ = ["connector_routes"]

_CHUNK = 64 * 1024


def connector_routes(service: RecurringService, *, environment_url: Callable[[], str]) -> list[BaseRoute]:
    """The dequeue, download and ack routes of ``service``."""
    routes = _Connector(service, environment_url)
    return [
        Route("/api/connector/dequeue/{activity}", routes.dequeue, methods=["GET"]),
        Route("/api/connector/download/{activity}", routes.download, methods=["GET"]),
        Route("/api/connector/ack/{activity}", routes.ack, methods=["POST"]),
    ]


class _Connector:
    def __init__(self, service: RecurringService, environment_url: Callable[[], str]) -> None:
        self.service = service
        self.environment_url = environment_url

    async def dequeue(self, request: Request) -> Response:
        activity = request.path_params["activity"]
        try:
            body = await run_in_threadpool(
                self.service.dequeue, activity, environment_url=self.environment_url()
            )
        except LookupError:
            return _unknown_activity(activity)
        if body is None:
            return Response(status_code=204)
        return JSONResponse(body)

    async def download(self, request: Request) -> Response:
        activity, query = request.path_params["activity"], request.query_params
        try:
            path = await run_in_threadpool(
                self.service.package_path,
                activity,
                correlation_id=query.get("correlation-id", ""),
                blob=query.get("blob", ""),
            )
        except LookupError:
            return JSONResponse(
                {"error": {"code": "", "message": "The file was not found."}}, status_code=404
            )
        data = await run_in_threadpool(path.read_bytes)
        drop = await run_in_threadpool(self.service.take_fault, "download_drop")
        if drop is None:
            return Response(data, media_type="application/octet-stream")
        return _Dropping(data, after=drop.after_bytes or len(data) // 2)

    async def ack(self, request: Request) -> Response:
        activity = request.path_params["activity"]
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return model_state_error()
        fault = await run_in_threadpool(self.service.take_fault, "ack_fail")
        if fault is not None:  # fails after ``seconds`` (sooner when the client goes away)
            deadline = asyncio.get_running_loop().time() + fault.seconds
            while asyncio.get_running_loop().time() < deadline and not await request.is_disconnected():
                await asyncio.sleep(0.05)
            return Response(status_code=500)
        try:
            acked = await run_in_threadpool(self.service.ack, activity, body)
        except LookupError:
            return _unknown_activity(activity)
        except ModelStateError:
            return model_state_error()
        if not acked:
            message = "The message was not found, or was dequeued again since (its pop receipt changed)."
            return JSONResponse({"error": {"code": "", "message": message}}, status_code=400)
        return Response(status_code=200)


class _Dropping(Response):
    """A download that sends ``after`` bytes of its body and then drops the connection."""

    def __init__(self, data: bytes, *, after: int) -> None:
        super().__init__(status_code=200, media_type="application/octet-stream")
        self.data, self.after = data, min(after, len(data))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", str(len(self.data)).encode()), (b"content-type", b"application/zip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, self.after, _CHUNK):
            chunk = self.data[start : min(start + _CHUNK, self.after)]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        # returning before the body is complete: the server closes the connection


def _unknown_activity(activity: str) -> Response:
    message = f"No recurring data job with activity id {activity[:60]} was found."
    return JSONResponse({"error": {"code": "", "message": message}}, status_code=404)
