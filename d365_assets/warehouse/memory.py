"""How much memory DuckDB may use while a load runs: a budget per DuckDB thread, per phase.

DuckDB needs a minimum of memory for each thread a statement runs on, so one fixed limit that suits
2 cores fails with "Out of Memory" on 8. Measured on a 20M-row GL table: at 100MB in all, the full
load's key check (a GROUP BY over the keys) failed from 4 threads on, and the insert from 16. A
load's limit is therefore a budget per thread times DuckDB's thread count (``SET threads``, by
default the machine's cores). Beyond its limit DuckDB spills to a temporary file instead of growing.

A full load has two phases. While it streams the package's rows in, the parser's buffers are alive
and a small DuckDB cache is enough (rows go to the file as they come); DuckDB fills its cache up to
the limit as the file grows, so this limit is what a larger package adds at the peak. Then it checks
the loaded rows, after the parser's buffers are gone: that phase gets more. A delta stages its rows
and deletes the ones it replaces, scattered over the table, which needs more still.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import duckdb

from d365_assets.warehouse.sql import scalar

__all__ = ["DEFAULT_LOAD_MEMORY", "LoadMemory", "LoadPhase", "set_load_memory"]


class LoadPhase(Enum):
    STREAM = "stream"
    """A full load's rows streaming in."""
    CHECK = "check"
    """A full load's guards over the loaded rows."""
    DELTA = "delta"
    """A delta, staged and applied."""


@dataclass(frozen=True)
class LoadMemory:
    """DuckDB's memory limit per thread, in MiB, for each :class:`LoadPhase`."""

    stream_mib: int = 50
    check_mib: int = 64
    delta_mib: int = 250

    def per_thread(self, phase: LoadPhase) -> int:
        """The budget per thread of ``phase``, in MiB."""
        return {LoadPhase.STREAM: self.stream_mib, LoadPhase.CHECK: self.check_mib}.get(phase, self.delta_mib)


DEFAULT_LOAD_MEMORY = LoadMemory()


def set_load_memory(con: duckdb.DuckDBPyConnection, memory: LoadMemory, phase: LoadPhase) -> None:
    """Set DuckDB's memory limit for ``phase`` on ``con``'s database: its budget times the threads.

    The caller resets it (``RESET memory_limit``) when the load ends.
    """
    threads = scalar(con, "SELECT current_setting('threads')::BIGINT")
    con.execute(f"SET memory_limit = '{memory.per_thread(phase) * max(threads, 1)}MiB'")
