"""Picks the F&O backend: the configured environment, or the embedded emulator when none is set.

This is the only product module that imports the emulator.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from d365_assets.emulator import Emulator
from d365_assets.fo import ClientSecretCredential

__all__ = ["EmbeddedBackend", "embedded_backend"]

_lock = threading.Lock()
_running: dict[Path, Emulator] = {}


class EmbeddedBackend:
    """Connection details of the embedded emulator running in this process."""

    def __init__(self, emulator: Emulator) -> None:
        self.environment_url = emulator.environment_url
        self.ca_bundle = str(emulator.ca_bundle)
        self.credential = ClientSecretCredential(
            tenant_id=emulator.tenant_id,
            client_id=emulator.client_id,
            client_secret=emulator.client_secret,
            authority_host=emulator.authority_host,
        )


def embedded_backend(state_dir: str | Path) -> EmbeddedBackend:
    """Start (once per process and state folder) the embedded emulator and return how to reach it.

    Every Dagster run or step process starts its own listeners; they share the state folder, so
    they all see one consistent F&O (executions, change tracking, packages).
    """
    path = Path(state_dir).expanduser().resolve()
    with _lock:
        emulator = _running.get(path)
        if emulator is None:
            emulator = Emulator(state_dir=path).start()
            _running[path] = emulator
            atexit.register(emulator.stop)
    return EmbeddedBackend(emulator)
