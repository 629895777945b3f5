"""F&O forgets: job history clean-up deletes executions, and package retention deletes packages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator

from .helpers import FoClient, small_config

PROJECT = "D365A-CustomersV3"


def test_history_clean_up_forgets_an_execution(state_dir: Path) -> None:
    with (
        Emulator(state_dir, small_config(history_retention_seconds=1.0)) as emulator,
        FoClient(emulator) as fo,
    ):
        execution_id, _ = fo.export_package(PROJECT, "USMF")
        time.sleep(1.1)
        for action in ("GetExecutionSummaryStatus", "GetExportedPackageUrl", "GetExecutionErrors"):
            response = fo.action(action, {"executionId": execution_id})
            assert response.status_code == 400, action
            inner = response.json()["error"]["innererror"]["message"]
            assert inner.endswith(f"Execution details were not found for execution id: {execution_id}")


@pytest.mark.parametrize("answer", ["url", "empty", "error"])
def test_the_package_url_once_the_package_is_deleted(state_dir: Path, answer: str) -> None:
    config = small_config(retention_seconds=1.0, expired_package_url=answer)
    with Emulator(state_dir, config) as emulator, FoClient(emulator) as fo:
        execution_id, _ = fo.export_package(PROJECT, "USMF")
        time.sleep(1.1)
        assert fo.value("GetExecutionSummaryStatus", {"executionId": execution_id}) == "Succeeded"
        response = fo.action("GetExportedPackageUrl", {"executionId": execution_id})
        if answer == "error":
            assert response.status_code == 400
            return
        url = response.json()["value"]
        if answer == "empty":
            assert url == ""
            return
        blob = fo.http.get(url)
        assert (blob.status_code, blob.headers["x-ms-error-code"]) == (404, "BlobNotFound")


def test_an_unknown_answer_for_a_deleted_package_is_refused() -> None:
    with pytest.raises(ValueError, match="expired_package_url must be url, empty or error"):
        small_config(expired_package_url="maybe")
