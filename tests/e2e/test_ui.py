"""The Dagster UI in a real headless Chromium: materialize one company partition and one shared entity.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package; no browser is
downloaded. Without them the test is skipped locally and fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.dagster_dev import DagsterDev
from tests.support.catalog import CATALOG
from tests.support.tables import checksum, source_rows, table_rows

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN_TIMEOUT_MS = 180_000
"""A run takes about 10 s on 2 idle cores (queue, run worker, export, load); allow for a busy machine."""

_RUNS_QUERY = "{ runsOrError(limit: 100) { ... on Runs { results { id } } } }"
_RUN_STATUS_QUERY = """
query ($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run {
    status tags { key value } assetSelection { path } } } }
"""


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium and the playwright package, or a skip (a failure when CI is set)."""
    path = shutil.which("chromium")
    if path is None:
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    return str(path)


@pytest.fixture
def page(chromium: str, dagster_dev: DagsterDev, tmp_path: Path) -> Iterator[Page]:
    """A Playwright page in Debian's headless Chromium with a fresh profile; a screenshot on failure."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "chromium-profile",
            executable_path=chromium,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(30_000)
        page = context.pages[0] if context.pages else context.new_page()
        # The UI greets a new instance with a newsletter dialog a second after loading: mark it seen
        # (as its Skip button does), and dismiss it should it show up anyway.
        dagster_dev.graphql("mutation { setNuxSeen }")
        page.add_locator_handler(
            page.get_by_text("Join the Dagster community"),
            lambda: page.get_by_role("button", name="Skip").click(),
        )
        try:
            yield page
        finally:
            screenshot = tmp_path / "screenshot.png"
            try:
                page.screenshot(path=screenshot, full_page=True)
                dagster_dev.artifacts.append(screenshot)
            finally:
                context.close()


def _run_ids(server: DagsterDev) -> set[str]:
    """The ids of the instance's runs, as the runs list shows them."""
    return {r["id"] for r in server.graphql(_RUNS_QUERY)["runsOrError"]["results"]}


def _watch_new_run(page: Page, server: DagsterDev, before: set[str]) -> str:
    """Find the run launched since ``before`` (not the launch toast, which vanishes), open its page and
    wait until it shows Success; return the run id."""
    from playwright.sync_api import expect

    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while not (new := _run_ids(server) - before):
        assert time.monotonic() < deadline, f"no run was launched:\n{server.log_tail()}"
        time.sleep(0.5)
    assert len(new) == 1, f"one click launched {len(new)} runs: {new}"
    run_id = new.pop()
    page.goto(f"{server.base_url}/runs/{run_id}")
    outcome = page.get_by_text("Success", exact=True).or_(page.get_by_text("Failure", exact=True)).first
    expect(outcome).to_be_visible(timeout=RUN_TIMEOUT_MS)
    run = server.graphql(_RUN_STATUS_QUERY, {"runId": run_id})["runOrError"]
    assert outcome.inner_text() == "Success", f"run {run_id} failed: {run}\n{server.log_tail()}"
    assert run["status"] == "SUCCESS", run
    return run_id


def test_materialize_from_the_ui(page: Page, dagster_dev: DagsterDev) -> None:
    """Asset graph -> Materialize one company partition, and a shared entity; the rows match F&O."""
    from playwright.sync_api import expect

    base = dagster_dev.base_url
    page.goto(f"{base}/locations/d365_assets/asset-groups/accounts_receivable")
    expect(page.get_by_text("customers_v3").first).to_be_visible()

    # A company-specific entity: choose the USMF partition in the launch dialog.
    page.goto(f"{base}/assets/d365/customers_v3")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_placeholder("Filter partitions").fill("USMF")
    page.locator("[data-state=open]").last.get_by_text("USMF", exact=True).first.click()
    dialog.get_by_text("Launch runs to materialize").click()  # close the partition picker
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    before = _run_ids(dagster_dev)
    dialog.get_by_role("button", name="Launch 1 run").click()
    customers_run = _watch_new_run(page, dagster_dev, before)

    # A shared entity: no partitions, so Materialize launches at once.
    page.goto(f"{base}/assets/d365/main_accounts")
    before = _run_ids(dagster_dev)
    page.get_by_role("button", name="Materialize", exact=False).first.click()
    accounts_run = _watch_new_run(page, dagster_dev, before)

    tags = {
        t["key"]: t["value"]
        for t in dagster_dev.graphql(_RUN_STATUS_QUERY, {"runId": customers_run})["runOrError"]["tags"]
    }
    assert tags.get("dagster/partition") == "USMF"
    assert customers_run != accounts_run

    # The asset page reflects the materialization.
    page.goto(f"{base}/assets/d365/customers_v3")
    expect(page.get_by_text("Never materialized")).to_have_count(0, timeout=30_000)

    emulator = dagster_dev.emulator()
    customers, accounts = CATALOG.entity("CustomersV3"), CATALOG.entity("MainAccounts")
    loaded, source = (
        table_rows(dagster_dev.duckdb_path, customers, "USMF"),
        source_rows(emulator, customers, "USMF"),
    )
    assert len(loaded) == len(source) > 0
    assert checksum(loaded) == checksum(source)
    assert table_rows(dagster_dev.duckdb_path, customers, "DEMF") == [], "only the chosen partition ran"
    loaded, source = (
        table_rows(dagster_dev.duckdb_path, accounts, None),
        source_rows(emulator, accounts, None),
    )
    assert len(loaded) == len(source) > 0
    assert checksum(loaded) == checksum(source)
