"""Run an ASGI app over HTTPS with uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from .tls import TlsFiles

__all__ = ["ServerThread"]


class ServerThread:
    """One HTTPS listener: binds at construction (so the port is known), serves after ``start()``."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, tls: TlsFiles, name: str) -> None:
        self.name = name
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"emulator-{name}", daemon=True)

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self, timeout: float = 15.0) -> None:
        """Start serving and wait until the listener accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"emulator {self.name} listener failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"emulator {self.name} listener did not start within {timeout} s")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit, force it if idle client connections linger, and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(0.5)
        if self._thread.is_alive():
            self._server.force_exit = True  # do not wait for clients' keep-alive connections
            self._thread.join(timeout)
        self._socket.close()
