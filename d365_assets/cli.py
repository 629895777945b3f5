"""``d365-assets``: run the main job from a terminal, and print what landed in DuckDB (or the Delta lake).

``d365-assets demo`` materializes every catalog entity for every company into the warehouse,
recorded in the Dagster instance at ``DAGSTER_HOME`` (so the runs show in ``dagster dev``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from d365_assets.catalog import Catalog, load_catalog
from d365_assets.schema import COMPANY_COLUMN
from d365_assets.settings import Settings
from d365_assets.warehouse import Warehouse, WarehouseError

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

    from d365_assets.defs.runs import CodeLocation

__all__ = ["LAUNCHED_BY_TAG", "main", "share_slots"]

LAUNCHED_BY_TAG = "d365/launched_by"
STEP_LOG = "d365-assets-demo.log"
"""File in the instance's ``logs/`` folder that receives the step processes' own output."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``d365-assets`` command."""
    parser = argparse.ArgumentParser(prog="d365-assets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the main job for every company, then print the row counts")
    commands.add_parser("summary", help="print the row count of every table and company")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    catalog = load_catalog(settings.catalog_path)
    if args.command == "demo":
        failed = run_main_job(settings, catalog)
        print_summary(settings, catalog)
        return 1 if failed else 0
    print_summary(settings, catalog)
    return 0


def run_main_job(settings: Settings, catalog: Catalog) -> list[str]:
    """Run the main job once per company, all at once (shared entities in the first run); returns the
    failed companies.

    Each run is an ordinary run of the ``d365_assets`` code location (:mod:`d365_assets.defs.runs`),
    executed with its entity steps in parallel. The runs execute together, each in a child process
    that dies with this one, so the ``d365_export`` pool (not the order of the runs) decides which
    exports wait: one run's last steps do not hold back the next run's first. Each run carries this
    process as its owner, so a later start can tell a run whose process was killed, mark it failed
    and free its pool slots (see :mod:`d365_assets.defs.instance`). The runs' own output goes to
    ``logs/d365-assets-demo.log`` in ``DAGSTER_HOME``.
    """
    from d365_assets.defs.instance import InstanceSetupError, open_instance, owner_tags
    from d365_assets.defs.runs import code_location, outcome, start_in_child

    try:
        instance, abandoned = open_instance()
    except InstanceSetupError as exc:
        raise SystemExit(str(exc)) from None
    backend = "the embedded F&O emulator" if settings.uses_emulator else settings.environment_url
    print(f"Exporting {len(catalog.entities)} entities for {', '.join(catalog.companies)} from {backend}")
    for run in abandoned:
        print(f"  {run.describe()}")
    tags = {LAUNCHED_BY_TAG: "d365-assets demo", **owner_tags()}
    failed = []
    step_log = Path(instance.root_directory) / "logs" / STEP_LOG
    with instance, code_location(instance) as location:
        runs = _company_runs(instance, location, catalog, tags=tags)
        started = time.perf_counter()
        step_log.parent.mkdir(parents=True, exist_ok=True)
        children = [start_in_child(run, output=step_log) for run in runs]
        for company, run, child in zip(catalog.companies, runs, children, strict=True):
            child.wait()
            ended = outcome(instance, run.run_id)
            status = "succeeded" if ended.success else "FAILED"
            print(
                f"  run {run.run_id[:8]} for {company}: {status} after {time.perf_counter() - started:.1f} s"
            )
            if not ended.success:
                failed.append(company)
                for step, message in ended.step_failures:
                    print(f"    {step}: {message}")
    if failed:
        print(f"  Run logs: the UI (make dev, then Runs); the step processes' own output: {step_log}")
    return failed


def _company_runs(
    instance: DagsterInstance, location: CodeLocation, catalog: Catalog, *, tags: dict[str, str]
) -> list[DagsterRun]:
    """One NOT_STARTED run of the main job per company, each with its share of the export slots.

    The first company's run refreshes every asset; the others the partitioned assets only.
    """
    from d365_assets.defs.automation import MAIN_JOB
    from d365_assets.defs.runs import create_run, partitioned_assets

    partitioned = partitioned_assets(location, MAIN_JOB)
    exports = [len(catalog.entities)] + [len(partitioned)] * (len(catalog.companies) - 1)
    slots = share_slots(exports, slots=_export_slots(instance))
    return [
        create_run(
            instance,
            location,
            job_name=MAIN_JOB,
            partition_key=company,
            asset_selection=None if index == 0 else partitioned,
            tags=tags,
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                "execution": {"config": {"max_concurrent": slots[index]}},
            },
        )
        for index, company in enumerate(catalog.companies)
    ]


def share_slots(exports: Sequence[int], *, slots: int) -> list[int]:
    """How many steps each of runs executing at once may run, so that together they use ``slots``.

    Every run gets one; each further slot goes to the run whose exports would otherwise take the
    most rounds. Runs that share a pool would otherwise wait on it, and Dagster re-checks a step
    blocked on a pool with a backoff of up to 15 s: a freed slot could stay idle that long.
    """
    shares = [1] * len(exports)
    for _ in range(max(slots - len(exports), 0)):
        rounds = [-(-count // share) for count, share in zip(exports, shares, strict=True)]
        shares[rounds.index(max(rounds))] += 1
    return shares


def _export_slots(instance: DagsterInstance) -> int:
    """The slots of the export pool: its limit in the instance, else the steps a run runs at once."""
    from d365_assets.defs.assets import EXPORT_POOL
    from d365_assets.defs.location import MAX_CONCURRENT_STEPS

    pools = instance.get_concurrency_config().pool_config
    limit = instance.event_log_storage.get_concurrency_info(EXPORT_POOL).slot_count
    return limit or pools.default_pool_limit or MAX_CONCURRENT_STEPS


def print_summary(settings: Settings, catalog: Catalog) -> None:
    """Print table, company and row count for every catalog entity."""
    if settings.destination == "delta":
        _print_lake_summary(settings, catalog)
        return
    database = settings.resolved_duckdb_path()
    rows: list[tuple[str, str, str]] = []
    try:
        with Warehouse(database, lock_timeout=30).connect(read_only=True) as con:
            for entity in catalog.entities:
                table = f"d365.{entity.table_name}"
                try:
                    if entity.company_specific:
                        counts = con.execute(
                            f"SELECT {COMPANY_COLUMN}, count(*) FROM {table} GROUP BY 1 ORDER BY 1"
                        ).fetchall()
                    else:
                        counts = [("(shared)", con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])]
                except duckdb.CatalogException:
                    counts = [("-", "not loaded")]
                rows.extend((table, company, str(count)) for company, count in counts)
    except WarehouseError as exc:
        print(f"Cannot read the warehouse: {exc}", file=sys.stderr)
        return
    except duckdb.Error as exc:  # opened, but a table cannot be read: a damaged file
        print(
            f"Cannot read the warehouse: DuckDB database {database}: {str(exc).strip().splitlines()[0]}. If "
            f"the file is "
            f"corrupt or truncated, move it aside and run `d365-assets demo` (or every entity's "
            f"refresh job) to rebuild it, or restore a backup.",
            file=sys.stderr,
        )
        return
    widths = [max(len(row[i]) for row in [*rows, ("table", "company", "rows")]) for i in range(3)]
    print(f"\nDuckDB warehouse: {database}")
    print(f"{'table':<{widths[0]}}  {'company':<{widths[1]}}  {'rows':>{widths[2]}}")
    for table, company, count in rows:
        print(f"{table:<{widths[0]}}  {company:<{widths[1]}}  {count:>{widths[2]}}")


def _print_lake_summary(settings: Settings, catalog: Catalog) -> None:
    """The summary of the Delta lake (``D365_DESTINATION=delta``): one line per table and company."""
    from d365_assets.errors import D365AssetsError
    from d365_assets.lake import DeltaLake

    lake = DeltaLake(settings.lake_config())
    print(f"\nDelta lake: {lake.identity}")
    try:
        for entity in catalog.entities:
            counts = lake.row_counts(entity.table_name)
            shown = (
                [("-", "not loaded")]
                if counts is None
                else [(c or "(shared)", str(n)) for c, n in counts.items()]
            )
            for company, rows in shown:
                print(f"{lake.table_name(entity.table_name):<40}  {company:<10}  {rows:>10}")
    except D365AssetsError as exc:
        print(f"Cannot read the lake: {exc}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
