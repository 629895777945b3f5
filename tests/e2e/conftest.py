"""End-to-end fixtures: `dagster dev` against the embedded emulator (see :mod:`tests.e2e.dagster_dev`).

Each test's server always stops; when a test fails, its server log (and whatever else the test
registered) is copied to ``test-artifacts/<test name>/`` in the repository.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.dagster_dev import ROOT, DagsterDev, dotenv_overrides, run_dagster_dev

ARTIFACTS = ROOT / "test-artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Expose each phase's report as ``item.rep_<phase>`` so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _test_failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(request.node, f"rep_{phase}", None) is not None
        and getattr(request.node, f"rep_{phase}").failed
        for phase in ("setup", "call")
    )


def _keep_artifacts(request: pytest.FixtureRequest, files: list[Path]) -> Path:
    """Copy ``files`` into ``test-artifacts/<test name>/`` and return that folder."""
    folder = ARTIFACTS / request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        if path.exists():
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def dagster_dev_factory(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., DagsterDev]]:
    """Start `dagster dev` (optionally with extra environment) once per test; stop it and keep its log."""
    if overrides := dotenv_overrides():
        pytest.skip(
            f"{ROOT / '.env'} sets {', '.join(overrides)}; `dagster dev` would load it over the test's"
        )
    stack = contextlib.ExitStack()
    servers: list[DagsterDev] = []

    def start(extra_env: Mapping[str, str] | None = None, **options: Any) -> DagsterDev:
        server = stack.enter_context(run_dagster_dev(tmp_path, extra_env, **options))
        servers.append(server)
        return server

    try:
        yield start
    finally:
        try:
            stack.close()
        finally:
            if _test_failed(request):
                files = [tmp_path / "dagster-dev.log", *(p for s in servers for p in s.artifacts)]
                folder = _keep_artifacts(request, files)
                sys.stderr.write(f"\ne2e artifacts kept in {folder}\n")


@pytest.fixture
def dagster_dev(dagster_dev_factory: Callable[..., DagsterDev]) -> DagsterDev:
    """`dagster dev` with the shipped catalog and the embedded emulator."""
    return dagster_dev_factory()
