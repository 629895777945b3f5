"""Opening the warehouse's DuckDB database: missing and foreign files, the writer lock, no-file databases."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from d365_assets.schema import EntitySchema
from d365_assets.warehouse import LoadRequest, Warehouse, WarehouseFileError, WarehouseLockedError
from d365_assets.warehouse.connection import Database

SCHEMA = EntitySchema.of([("ACCOUNT", "string"), ("NAME", "string")])


def request(execution_id: str = "e1") -> LoadRequest:
    rows = pl.DataFrame({"ACCOUNT": ["001", "002"], "NAME": ["Forest", "Lake"]})
    return LoadRequest(
        entity="Accounts",
        table="accounts",
        schema=SCHEMA,
        batches=[rows],
        company="USMF",
        mode="full",
        natural_key=("ACCOUNT",),
        execution_id=execution_id,
    )


def test_reading_a_database_that_was_never_loaded_says_so_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "warehouse.duckdb"
    with (
        pytest.raises(WarehouseFileError, match=r"does not exist yet.*materialize the assets first"),
        Database(str(path), lock_timeout=1).connect(read_only=True),
    ):
        pass
    assert not path.parent.exists()


def test_a_file_that_is_not_a_duckdb_database_is_named_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a database" * 100)
    evidence = path.read_bytes()
    with pytest.raises(
        WarehouseFileError,
        match=rf"DuckDB database {re.escape(str(path))}: DuckDB cannot open it \(.+\)\. "
        r".*move it aside.*Nothing was changed",
    ):
        Warehouse(path, lock_timeout=1).load(request())
    assert path.read_bytes() == evidence


def test_a_load_waits_for_the_writer_lock_and_names_it_when_it_stays_taken(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    warehouse = Warehouse(path, lock_timeout=0.5)
    warehouse.load(request("e1"))
    code = f"""
        import time
        from filelock import FileLock
        lock = FileLock({f"{path}.lock"!r})
        lock.acquire()
        print("holding", flush=True)
        time.sleep(30)
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(
            WarehouseLockedError,
            match=rf"another load into {re.escape(str(path))} held the writer lock "
            rf"\({re.escape(str(path))}\.lock\) for over 0 s.*Nothing was changed",
        ):
            warehouse.load(request("e2"))
        assert time.monotonic() - started >= 0.4, "the load waited for the lock before giving up"
    finally:
        holder.kill()
        holder.wait()
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT execution_id FROM d365._load_ledger").fetchall() == [("e1",)]
    assert warehouse.load(request("e2")).applied, "the lock is free again once its holder is gone"


def test_a_database_that_is_no_file_loads_without_a_lock_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = Warehouse(":memory:", lock_timeout=1).load(request())
    assert (result.applied, result.rows_read, result.company_rows, result.table_rows) == (True, 2, 2, 2)
    assert list(tmp_path.iterdir()) == []
