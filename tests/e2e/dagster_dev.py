"""`dagster dev` started the way the README says, against the embedded emulator, for end-to-end tests.

:func:`run_dagster_dev` gives the server its own ``DAGSTER_HOME`` (the repository's ``dagster.yaml``
copied into the test's folder), its own emulator state folder and DuckDB file, and a free loopback
port; it always stops the server (SIGTERM to its process group, SIGKILL as the last resort).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dagster_graphql import DagsterGraphQLClient

from d365_assets.emulator import Emulator, EmulatorConfig
from tests.support.environment import TEST_ROWS, embedded_variables, process_environment

ROOT = Path(__file__).resolve().parents[2]
LOCATION = "d365_assets"
START_TIMEOUT = 180.0
"""Seconds for `dagster dev` to answer /server_info and load the code location (2 busy cores)."""
STOP_TIMEOUT = 30.0

_WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message stack } } } } } }
"""


@dataclass
class DagsterDev:
    """A running `dagster dev`: where it listens and where its instance, warehouse and emulator live."""

    base_url: str
    port: int
    home: Path
    duckdb_path: Path
    emulator_state_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    environment: dict[str, str] = field(default_factory=dict)
    """Its environment (``DAGSTER_HOME``, ``D365_*``): a process given it works on the same data."""
    artifacts: list[Path] = field(default_factory=list)
    """Extra files a test wants kept on failure (screenshots)."""

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL query and return its ``data`` (raises on transport or GraphQL errors)."""
        response = httpx.post(
            f"{self.base_url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def client(self) -> DagsterGraphQLClient:
        """Dagster's GraphQL client for this server."""
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=30)

    def emulator(self) -> Emulator:
        """An emulator handle on the server's state folder (not started: for source data and activity)."""
        return Emulator(state_dir=self.emulator_state_dir)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the server log."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and every process of its group; idempotent."""
        stop_process_group(self.process)


def prepare_emulator(tmp_path: Path) -> Path:
    """Create (once) the emulator state folder of a test: small tables, adopted by every run process."""
    state_dir = tmp_path / "emulator"
    Emulator(state_dir=state_dir, config=EmulatorConfig(rows=TEST_ROWS))
    return state_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group of ``process``, wait for all of it, SIGKILL the group as the last resort."""
    pgid = process.pid  # start_new_session=True: the leader's pid is the group id
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:  # the code server and run workers outlive `dagster dev` briefly
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.25)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def dotenv_overrides() -> list[str]:
    """``D365_*`` names set in the repository's ``.env``, which `dagster dev` would load over the test's."""
    path = ROOT / ".env"
    if not path.exists():
        return []
    names = [line.split("=", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return sorted(n.removeprefix("export ").strip() for n in names if "D365_" in n and not n.startswith("#"))


def _wait_until_loaded(server: DagsterDev) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"dagster dev exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/server_info", timeout=2).status_code == 200:
                entries = server.graphql(_WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
                entry = next((e for e in entries if e["name"] == LOCATION), None)
                if entry and entry["loadStatus"] == "LOADED":
                    loaded = entry["locationOrLoadError"]
                    if loaded and loaded["__typename"] == "RepositoryLocation":
                        return
                    raise AssertionError(f"code location {LOCATION} failed to load: {loaded}")
                last = f"location entry {entry}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise AssertionError(f"dagster dev not ready after {START_TIMEOUT:.0f} s ({last}):\n{server.log_tail()}")


@contextlib.contextmanager
def run_dagster_dev(
    tmp_path: Path, extra_env: Mapping[str, str] | None = None, *, dagster_yaml: Path = ROOT / "dagster.yaml"
) -> Iterator[DagsterDev]:
    """Start `dagster dev -w workspace.yaml` from the repository root; yield once the location is loaded."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(dagster_yaml, home / "dagster.yaml")
    variables = embedded_variables(prepare_emulator(tmp_path), tmp_path)
    env = process_environment(variables, DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1", **(extra_env or {}))
    port = free_port()
    log_path = tmp_path / "dagster-dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, and SIGTERM is not ignored (notes §8.5)
        )
    server = DagsterDev(
        base_url=f"http://127.0.0.1:{port}",
        port=port,
        home=home,
        duckdb_path=Path(variables["D365_DUCKDB_PATH"]),
        emulator_state_dir=Path(variables["D365_EMULATOR_STATE_DIR"]),
        log_path=log_path,
        process=process,
        environment=env,
    )
    try:
        _wait_until_loaded(server)
        yield server
    finally:
        server.stop()
