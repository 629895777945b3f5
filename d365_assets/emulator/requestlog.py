"""A per-emulator log of the requests each origin received (no query strings, no secrets)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RequestLog", "RequestRecord"]


@dataclass(frozen=True)
class RequestRecord:
    """One request as seen by an emulator origin."""

    origin: str
    """``fo``, ``authority`` or ``blob``."""
    method: str
    path: str
    had_authorization: bool
    at: float = 0.0
    """When the request arrived (``time.time()``)."""


class RequestLog:
    """Thread-safe list of received requests, and the ASGI middleware that fills it."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        """Append a record."""
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget all records."""
        with self._lock:
            self._records.clear()

    def middleware(self, app: ASGIApp, *, origin: str) -> ASGIApp:
        """Wrap ``app`` so that every HTTP request is recorded under ``origin``."""

        async def logged(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                has_auth = any(name.lower() == b"authorization" for name, _ in scope.get("headers", ()))
                self.add(RequestRecord(origin, scope["method"], scope["path"], has_auth, time.time()))
            await app(scope, receive, send)

        return logged
