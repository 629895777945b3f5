"""A load's DuckDB memory limit is a budget per thread: the same settings work on any core count."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from d365_assets.schema import EntitySchema
from d365_assets.warehouse import LoadRequest
from d365_assets.warehouse.memory import LoadMemory, LoadPhase, set_load_memory
from d365_assets.warehouse.table import EntityTable


def _limit_of(mebibytes: int) -> str:
    """DuckDB's own rendering of a ``<mebibytes>MiB`` limit."""
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{mebibytes}MiB'")
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


@pytest.mark.parametrize("threads", [1, 2, 8, 16])
@pytest.mark.parametrize("phase", list(LoadPhase))
def test_the_limit_is_the_phase_budget_times_duckdbs_threads(
    tmp_path: Path, threads: int, phase: LoadPhase
) -> None:
    memory = LoadMemory(stream_mib=32, check_mib=64, delta_mib=250)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(f"SET threads = {threads}")
        set_load_memory(con, memory, phase)
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit == _limit_of(memory.per_thread(phase) * threads)


def test_a_full_load_takes_its_check_budget_once_its_rows_are_in(tmp_path: Path) -> None:
    schema = EntitySchema.of([("ACCOUNT", "string"), ("AMOUNT", "integer")])
    request = LoadRequest(
        entity="Accounts",
        table="accounts",
        schema=schema,
        batches=[pl.DataFrame({"ACCOUNT": ["a", "b", "c"], "AMOUNT": [1, 2, 3]})],
        company="USMF",
        mode="full",
        natural_key=["ACCOUNT"],
        execution_id="full-1",
    )
    memory = LoadMemory(stream_mib=16, check_mib=48)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("SET threads = 2")
        con.execute("CREATE SCHEMA d365")
        seen: list[tuple[int, str]] = []

        def before_checks() -> None:
            set_load_memory(con, memory, LoadPhase.CHECK)
            rows = con.execute("SELECT count(*) FROM d365.accounts").fetchone()[0]
            seen.append((rows, con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))

        table = EntityTable(con, request, schema="d365", before_checks=before_checks)
        set_load_memory(con, memory, LoadPhase.STREAM)
        con.execute("BEGIN TRANSACTION")
        table.ensure()
        counts = table.replace()
        con.execute("COMMIT")
    assert counts.read == 3
    assert seen == [(3, _limit_of(48 * 2))]  # once, with every row in, at the check budget
