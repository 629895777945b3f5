"""Benchmark: refresh the shipped catalog for every company through the real Dagster path.

What ``d365-assets demo`` does (:func:`d365_assets.cli.run_main_job`): the main job of the code
location, a real Dagster instance (in a temporary ``DAGSTER_HOME`` with the project's
``dagster.yaml``: the ``d365_export`` pool of 4), the multiprocess executor, one run per company.
F&O is an emulator in this process, addressed as a real environment, whose exports each stay
Executing for a set time; its request log tells when each package download started.

Figures: the wall time against the ideal for the pool (``ceil(exports / 4)`` waves of one export's
wait plus one load), and from each export turning Succeeded to its download starting (p50, max).

Run by ``bench/ingest.py`` in a child process (``python bench/catalog_refresh.py WORK SECONDS``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXPORT_POOL_SLOTS = 4
"""The ``d365_export`` pool's limit in the project's ``dagster.yaml`` (``default_limit``)."""


def measure(work: Path, executing_seconds: float) -> dict:
    """Run the main job for every company; returns the wall time, the ideal and the latencies."""
    from d365_assets.catalog import load_catalog
    from d365_assets.cli import run_main_job
    from d365_assets.emulator import Emulator, EmulatorConfig
    from d365_assets.settings import Settings
    from tests.support.environment import real_environment_variables

    home = work / "dagster-home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    config = EmulatorConfig(
        executing_seconds=executing_seconds,
        not_visible_seconds=0.0,
        not_run_seconds=0.0,
        package_url_delay_seconds=0.0,
    )
    with Emulator(state_dir=work / "emulator-catalog", config=config) as emulator:
        variables = real_environment_variables(emulator, work / "catalog")
        os.environ.update(variables | {"DAGSTER_HOME": str(home)})
        settings = Settings.from_env(variables)
        catalog = load_catalog(settings.catalog_path)
        started = time.perf_counter()
        failed = run_main_job(settings, catalog)
        wall = time.perf_counter() - started
        if failed:
            raise SystemExit(f"the catalog refresh failed for {failed}")
        latencies = _notice_latencies(emulator)
    loads = _load_seconds(settings.resolved_duckdb_path())
    exports = len(latencies)
    waves = math.ceil(exports / EXPORT_POOL_SLOTS)
    ideal = waves * (executing_seconds + statistics.mean(loads))
    return {
        "exports": exports,
        "loads": len(loads),
        "wall": wall,
        "ideal": ideal,
        "mean_load": statistics.mean(loads),
        "latency_p50": statistics.median(latencies),
        "latency_max": max(latencies),
    }


def _notice_latencies(emulator) -> list[float]:
    """Per export: seconds from Succeeded (as the emulator reports it) to the first blob request."""
    first_download: dict[str, float] = {}
    for request in emulator.requests:
        if request.origin == "blob" and request.method == "GET":
            blob = request.path.rstrip("/").rsplit("/", 1)[-1]
            first_download[blob] = min(request.at, first_download.get(blob, request.at))
    latencies = []
    for blob, at in first_download.items():
        record = emulator._store.execution_for_blob(blob)  # the bench reads the state
        finished = record and emulator.finished_at(record.execution_id)
        if finished is not None:
            latencies.append(at - finished)
    return latencies


def _load_seconds(database: str) -> list[float]:
    """Each load's seconds inside the warehouse (from its ledger)."""
    import duckdb

    with duckdb.connect(database, read_only=True) as con:
        rows = con.execute("SELECT epoch(finished_at) - epoch(started_at) FROM d365._load_ledger").fetchall()
    return [float(seconds) for (seconds,) in rows]


def main() -> None:
    work, seconds = Path(sys.argv[1]), float(sys.argv[2])
    print(json.dumps(measure(work, seconds)))


if __name__ == "__main__":
    main()
