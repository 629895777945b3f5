"""A load's DuckDB memory limit is a budget per thread: the same settings work on any core count."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from d365_assets.warehouse.memory import LoadMemory, LoadPhase, set_load_memory


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
