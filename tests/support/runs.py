"""Dagster runs in tests: their failure messages, and a process holding the DuckDB file meanwhile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

__all__ = ["check_results", "failure_message", "hold_duckdb"]


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's check evaluations by check name."""
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error messages of the run's failed steps, one per line."""
    return "\n".join(
        event.step_failure_data.error.message for event in result.all_events if event.is_step_failure
    )


def hold_duckdb(path: Path, seconds: float) -> subprocess.Popen:
    """A process that opens the DuckDB file at ``path`` read-write and keeps it for ``seconds``."""
    code = (
        f"import duckdb, time; con = duckdb.connect({str(path)!r}); "
        f"print('held', flush=True); time.sleep({seconds})"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder
