"""The Delta destination against Azurite over HTTPS: readers never block a load, a killed load leaves
the previous version, an execution applies once, two companies load at once, types come back exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from d365_assets.lake import EXECUTION_KEY, DeltaLake, LakeStorageError, maintain_table
from d365_assets.loading import LoadResult
from tests.support.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from tests.support.lake_loads import EXTREME, accounts, frame, request
from tests.support.lake_tables import open_table, read_table

ROOT = Path(__file__).resolve().parents[2]


def test_a_reader_holding_the_table_open_does_not_block_a_load(azurite: Azurite) -> None:
    lake = DeltaLake(azurite.lake())
    lake.load(request([frame(accounts(300))], execution_id="full-1"))
    held = open_table(lake.config, "vendors")
    reader = duckdb.connect()
    reader.register("vendors", held.to_pyarrow_dataset())  # a notebook's view of the table, left open
    assert reader.execute("SELECT count(*) FROM vendors").fetchone() == (300,)

    started = time.perf_counter()
    result = lake.load(request([frame(accounts(400, start=100))], execution_id="full-2"))
    assert time.perf_counter() - started < 20, "the load waited on the reader"
    assert result.applied
    assert (result.rows_deleted, result.rows_updated, result.rows_inserted) == (100, 200, 200)

    old = reader.execute("SELECT count(*), min(ACCOUNT) FROM vendors").fetchone()
    assert old == (300, "000000"), "the open reader keeps its snapshot while and after the load commits"
    assert held.version() == 1
    fresh: pl.DataFrame = pl.from_arrow(read_table(open_table(lake.config, "vendors")))  # type: ignore[assignment]
    assert fresh.height == 400
    assert fresh["ACCOUNT"].min() == "000100", "reopened, the reader sees the new version"
    held.update_incremental()
    assert held.version() == 2


def test_a_load_killed_mid_write_leaves_the_previous_version_readable(azurite: Azurite) -> None:
    config = azurite.lake()
    lake = DeltaLake(config)
    lake.load(request([frame(accounts(500))], execution_id="before"))
    environment = {
        **os.environ,
        "LAKE_ACCOUNT": ACCOUNT,
        "LAKE_KEY": ACCOUNT_KEY,
        "LAKE_AZURITE_URL": azurite.url,
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.lake_loads", config.root, "killed", "400000"],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "streaming"
        written = _wait_for(lambda: _data_files(azurite, config.root) > 1, timeout=30)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert written, "the killed load had written data files to Azurite (killed mid-write)"

    table = open_table(config, "vendors")
    assert table.version() == 1, "nothing of the killed load was committed"
    rows = read_table(table, company="USMF")
    assert rows.num_rows == 500
    assert set(rows.column("_execution_id").to_pylist()) == {"before"}

    again = lake.load(request([frame(accounts(450))], execution_id="killed"))
    assert again.applied, "the killed execution never committed, so its next load applies"
    assert again.company_rows == 450
    orphans = _data_files(azurite, config.root)
    maintain_table(config, "vendors", retention_hours=0)
    assert _data_files(azurite, config.root) < orphans, "vacuum deletes the killed load's files"
    assert read_table(open_table(config, "vendors")).num_rows == 450


def _data_files(azurite: Azurite, root: str) -> int:
    """Parquet files under the lake in Azurite, committed or not."""
    container, _, path = root.removeprefix("az://").partition("/")
    blobs = azurite.service().get_container_client(container).list_blobs(name_starts_with=path)
    return sum(1 for blob in blobs if blob.name.endswith(".parquet"))


def _wait_for(condition: Callable[[], bool], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_an_execution_is_applied_once_and_its_types_come_back_exact(azurite: Azurite) -> None:
    lake = DeltaLake(azurite.lake())
    loaded = frame(accounts(50))
    first = lake.load(request([loaded], execution_id="exec-1"))
    again = lake.load(request([loaded], execution_id="exec-1"))
    assert (first.applied, again.applied) == (True, False)
    assert (first.version, again.version) == (1, 1), "created at 0, loaded at 1, and no commit again"
    table = open_table(lake.config, "vendors")
    assert table.version() == 1, "the retried load made no commit"
    assert [h.get(EXECUTION_KEY) for h in table.history()] == ["exec-1", None]
    assert again.company_rows == 50
    assert again.duplicate_keys == 0

    back = pl.from_arrow(read_table(table, company="USMF")).sort("ACCOUNT")
    assert back.select(loaded.columns).equals(loaded), "strings, decimals, booleans, dates, NULLs exact"
    assert back["AMOUNT"].to_list()[:3] == [EXTREME, Decimal("-1250.5"), Decimal("0.000001")]
    assert back["ACCOUNT"][0] == "000000"
    assert dict(first.columns)["AMOUNT"] == "DECIMAL(32,6)"
    assert dict(first.columns)["MODIFIED"] == "TIMESTAMP"

    delta = lake.load(
        request([frame(["000003", "900000"], amount=Decimal("7.25"))], execution_id="d-1", mode="delta")
    )
    assert (delta.rows_inserted, delta.rows_updated, delta.company_rows) == (1, 1, 51)
    assert lake.load(request([frame(["000003"])], execution_id="d-1", mode="delta")).applied is False


def test_two_companies_load_into_one_table_at_once(azurite: Azurite) -> None:
    lake = DeltaLake(azurite.lake())
    results: dict[str, LoadResult | BaseException] = {}

    def load(company: str, mode: str, rows: int) -> None:
        try:
            batches = [frame(accounts(rows))]
            results[f"{company}-{mode}"] = lake.load(
                request(batches, execution_id=f"{company}-{mode}", company=company, mode=mode)
            )
        except BaseException as exc:  # handed to the test thread
            results[f"{company}-{mode}"] = exc

    for mode, rows in (("full", 400), ("delta", 420)):
        threads = [threading.Thread(target=load, args=(c, mode, rows)) for c in ("USMF", "DEMF")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert all(isinstance(r, LoadResult) and r.applied for r in results.values()), results
    table = open_table(lake.config, "vendors")
    for company in ("USMF", "DEMF"):
        assert read_table(table, company=company).num_rows == 420, "both companies' loads landed whole"
    executions = {h.get(EXECUTION_KEY) for h in table.history()} - {None}
    assert executions == {"USMF-full", "DEMF-full", "USMF-delta", "DEMF-delta"}


def test_a_sas_token_loads_and_a_wrong_key_fails_without_showing_it(azurite: Azurite) -> None:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container = azurite.new_container()
    sas = generate_container_sas(
        ACCOUNT,
        container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(
            read=True, write=True, delete=True, list=True, add=True, create=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    with_sas = DeltaLake(azurite.lake(container, account_key=None, sas_token=sas))
    assert with_sas.load(request([frame(accounts(10))], execution_id="sas")).applied

    forged = sas.split("sig=")[0] + "sig=" + "B" * 43 + "%3D"
    with pytest.raises(LakeStorageError) as forged_refused:
        DeltaLake(azurite.lake(container, account_key=None, sas_token=forged)).load(
            request([frame(accounts(10))], execution_id="forged")
        )
    assert "B" * 43 not in str(forged_refused.value)
    assert sas.split("sig=")[1][:20] not in str(forged_refused.value)

    wrong = "A" * 86 + "=="
    with pytest.raises(LakeStorageError) as refused:
        DeltaLake(azurite.lake(container, account_key=wrong)).load(
            request([frame(accounts(10))], execution_id="wrong")
        )
    assert wrong not in str(refused.value)
    assert ACCOUNT_KEY not in str(refused.value)
    assert "403 Forbidden (AuthorizationFailure)" in str(refused.value)
    with pytest.raises(LakeStorageError, match=r"404 Not Found \(ContainerNotFound\)"):
        DeltaLake(azurite.lake("no-such-container")).load(request([frame(accounts(1))], execution_id="n"))
    assert DeltaTable(
        with_sas.table_uri("vendors"), storage_options=with_sas.config.storage_options()
    ).version() in {0, 1}


def test_deltas_of_one_company_at_once_conflict_and_the_loser_retries(
    azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    lake = DeltaLake(azurite.lake())
    lake.load(request([frame(accounts(100))], execution_id="base"))
    failures: list[BaseException] = []

    def merge(barrier: threading.Barrier, start: int, execution_id: str) -> None:
        barrier.wait()
        try:
            lake.load(request([frame(accounts(5, start=start))], execution_id=execution_id, mode="delta"))
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    with caplog.at_level("WARNING", logger="d365_assets.lake.destination"):
        for round_ in range(3):
            barrier = threading.Barrier(2)
            threads = [
                threading.Thread(target=merge, args=(barrier, 1000 + 100 * round_ + 10 * i, f"m{round_}-{i}"))
                for i in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
    assert not failures, failures
    assert any("conflicted" in r.getMessage() for r in caplog.records), "same-company merges conflict"
    assert lake.row_counts("vendors") == {"USMF": 130}, "every merge landed once, none twice"
