"""Azurite (Microsoft's Azure Storage emulator) over HTTPS for the lake's tests: started, trusted, one
container per test.

The blob service runs from ``tests/azurite/node_modules`` (``npm ci`` there, or ``make azurite``)
with a leaf certificate from the emulator's own CA (``d365_assets.emulator.tls``): delta-rs trusts
only ``SSL_CERT_FILE``, so the test process points it at the system bundle plus that CA. Nothing
leaves the machine: Azurite listens on 127.0.0.1, and delta-rs finds it through
``AZURITE_BLOB_STORAGE_URL`` (set by :class:`~d365_assets.lake.LakeConfig`).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from d365_assets.emulator import ensure_tls
from d365_assets.lake import LakeConfig

__all__ = ["ACCOUNT", "ACCOUNT_KEY", "AZURITE_BIN", "Azurite", "azurite_missing", "running_azurite"]

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / "tests" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account key (published in Azurite's README)."""
API_VERSION = "2025-11-05"
"""azure-storage-blob 12.31 asks for a newer API version than Azurite 3.35 serves."""


def azurite_missing() -> str | None:
    """Why Azurite cannot start here (not installed, no node), or None."""
    if not AZURITE_BIN.exists():
        return f"Azurite is not installed: run `make azurite` (npm ci in {AZURITE_BIN.parents[2]})"
    return None


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service on ``https://127.0.0.1:<port>``, trusted through ``ca``."""

    port: int
    ca: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def service(self) -> BlobServiceClient:
        return BlobServiceClient(
            account_url=f"{self.url}/{ACCOUNT}",
            credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY},
            api_version=API_VERSION,
            connection_verify=str(self.ca),
        )

    def new_container(self) -> str:
        """A fresh, empty container (delta-rs never creates one)."""
        name = f"lake-{uuid.uuid4().hex[:12]}"
        self.service().create_container(name)
        return name

    def lake(self, container: str | None = None, *, path: str = "d365", **options: object) -> LakeConfig:
        """A lake in ``container`` (a new one by default), with the account key and no retries."""
        container = container or self.new_container()
        arguments: dict = {"account_name": ACCOUNT, "account_key": ACCOUNT_KEY, "max_retries": 0, **options}
        return LakeConfig(f"az://{container}/{path}", azurite_url=self.url, **arguments)

    def variables(self, container: str) -> dict[str, str]:
        """The ``D365_*`` variables of a Delta destination in ``container``."""
        return {
            "D365_DESTINATION": "delta",
            "D365_LAKE_URI": f"az://{container}/d365",
            "D365_LAKE_ACCOUNT_NAME": ACCOUNT,
            "D365_LAKE_ACCOUNT_KEY": ACCOUNT_KEY,
            "D365_LAKE_AZURITE_URL": self.url,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trust_bundle(ca: Path, folder: Path) -> Path:
    """The system's CA bundle (``SSL_CERT_FILE``, else certifi's) plus ``ca``, in ``folder``."""
    import certifi

    system = Path(os.environ.get("SSL_CERT_FILE") or certifi.where())
    bundle = folder / "trust.pem"
    bundle.write_bytes(system.read_bytes() + b"\n" + ca.read_bytes())
    return bundle


def _wait_until_serving(port: int, ca: Path, process: subprocess.Popen, timeout: float = 20.0) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1.0) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not start on port {port} (exit {process.poll()})") from None
            time.sleep(0.1)


@contextmanager
def running_azurite(folder: Path) -> Iterator[Azurite]:
    """Azurite's blob service in memory, over HTTPS with a leaf of the emulator's CA, until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    tls = ensure_tls(folder)
    port = _free_port()
    process = subprocess.Popen(
        [
            str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
            "--disableTelemetry", "--silent", "--cert", str(tls.server_cert), "--key", str(tls.server_key),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until_serving(port, tls.ca_cert, process)
        yield Azurite(port=port, ca=tls.ca_cert)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
