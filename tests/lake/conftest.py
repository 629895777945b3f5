"""Azurite for the lake's tests: one blob service per session (each test takes its own container).

Without Azurite installed the tests skip, or fail when ``CI`` is set (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import Azurite, azurite_missing, running_azurite, trust_bundle


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite over HTTPS; ``SSL_CERT_FILE`` trusts its CA for the session (delta-rs reads only that)."""
    reason = azurite_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("azurite")
    with running_azurite(folder) as server:
        before = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(trust_bundle(server.ca, folder))
        try:
            yield server
        finally:
            if before is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = before


@pytest.fixture
def lake_folder(tmp_path: Path) -> Path:
    """A local folder as the lake (for what Azurite is not needed for)."""
    return tmp_path / "lake"
