"""Benchmark: package zip -> typed DuckDB table, deltas, and a whole-catalog refresh through Dagster.

Run ``.venv/bin/python bench/ingest.py`` (``--sizes 1000000 5000000 20000000`` by default; ``--quick``
for a 100k/200k-row smoke run). Every figure comes from this one run on this machine, so compare the
ratios; the last table says which targets (issue 13) are met. Each measured load runs in its own child
process; peak RSS is that process's maximum resident set (VmHWM; the figures include the interpreter
and imports). Packages are built once by the emulator's package writer and kept in a cache folder
(``--cache``, see bench/package_cache.py); extracted files live only inside one measurement.

Paths per package (GeneralJournalAccountEntries, CSV and CSV-Unicode):
  ours      DataPackage.iter_entity_batches -> Warehouse.load (full), what a materialization does
  baseline  extract the entity file to disk, then DuckDB read_csv with explicit types
  floor     inflate the entity file out of the zip as ours does (ISA-L, one thread) and discard it
  lake      the same package -> a Delta table (D365_DESTINATION=delta) in a local folder and on
            Azurite over HTTPS (when installed: make azurite), beside ours (CSV, up to 5M rows)
Plus: a 10,000-row delta into the smallest and the largest table and a 1% delta of the largest, the
download rate against a plain httpx stream, the fixed overhead of one materialization of a 10-row
entity, how soon the client notices a finished export, and the shipped catalog refreshed for both
companies through Dagster with each export Executing 20 s (bench/catalog_refresh.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

GL = "GeneralJournalAccountEntries"
GL_LABEL = "General journal account entry"
FORMATS = {"CSV": "BENCH-GL-CSV", "CSV-Unicode": "BENCH-GL-Unicode"}
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # this checkout's d365_assets, and the tests' emulator helpers
    sys.path.insert(0, str(ROOT))


# -- child-process measurements -----------------------------------------------------------------


def _peak_mib() -> float:
    """This process's peak resident set (VmHWM).

    Not ``ru_maxrss``: Linux carries the parent's peak over into a spawned child's ``ru_maxrss``,
    so every child would report at least the benchmark driver's own peak (emulator included).
    """
    with contextlib.suppress(OSError, IndexError, ValueError):
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_gl_package(destination, package: str, mode: str):
    """The GL package into ``destination`` (``Warehouse`` or ``DeltaLake``), as a materialization loads it."""
    from d365_assets.catalog import load_catalog
    from d365_assets.loading import LoadRequest
    from d365_assets.package import DataPackage

    entity = load_catalog().entity(GL)
    with DataPackage.open(Path(package)) as data:
        return destination.load(
            LoadRequest(
                entity=entity.name,
                table=entity.table_name,
                schema=entity.schema,
                batches=data.iter_entity_batches(entity.label, schema=entity.schema),
                company="USMF",
                mode=mode,
                natural_key=entity.natural_key,
                execution_id=f"bench-{time.time_ns()}",
            )
        )


def measure_ours(package: str, database: str, mode: str = "full") -> dict:
    from d365_assets.warehouse import Warehouse

    started = time.perf_counter()
    result = load_gl_package(Warehouse(database), package, mode)
    return {
        "seconds": time.perf_counter() - started,
        "rows": result.rows_read,
        "inserted": result.rows_inserted,
        "updated": result.rows_updated,
        "peak_mib": _peak_mib(),
    }


def measure_baseline(package: str, database: str, encoding: str) -> dict:
    import duckdb

    from d365_assets.catalog import load_catalog

    entity = load_catalog().entity(GL)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(package) as archive:
        member = next(n for n in archive.namelist() if n.startswith(GL_LABEL))
        path = archive.extract(member, tmp)
        extracted = time.perf_counter()
        types = {c.name: c.type.duckdb_type for c in entity.schema}
        with duckdb.connect(database) as con:
            con.execute(
                "CREATE TABLE gl AS SELECT * FROM read_csv(?, header=true, columns=?, encoding=?, "
                "quote='\"', escape='\"')",
                [path, types, encoding],
            )
            rows = con.execute("SELECT count(*) FROM gl").fetchone()[0]
        read = time.perf_counter()
    return {
        "seconds": time.perf_counter() - started,
        "read_csv_seconds": read - extracted,
        "rows": rows,
        "peak_mib": _peak_mib(),
    }


def measure_floor(package: str) -> dict:
    from d365_assets.package.archive import open_archive, open_entry

    started = time.perf_counter()
    with open_archive(package) as archive:
        member = next(i for i in archive.infolist() if i.filename.startswith(GL_LABEL))
        with open_entry(archive, member) as stream:
            while stream.read(1 << 20):
                pass
    return {"seconds": time.perf_counter() - started, "rows": 0, "peak_mib": _peak_mib()}


def _child(kind: str, *args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "_measure", kind, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# -- the run: each part appends its rows to the table and its figures to `figures` -----------


class Table:
    """The printed table: one row per measured path, printed as it is measured."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, cells: list[str]) -> None:
        self.rows.append(cells + [""] * (len(HEADER) - len(cells)))
        print("  " + " | ".join(self.rows[-1]), flush=True)

    def measured(self, label: str, rows: int, figures: dict, reference: dict | None = None) -> None:
        """A row of seconds, rows/s and peak MiB, with its ratio to ``reference`` (a baseline)."""
        rate = f"{rows / figures['seconds']:,.0f}" if rows else "-"
        ratio = f"{figures['seconds'] / reference['seconds']:.2f}x" if reference else ""
        self.add(
            [label, f"{rows:,}", f"{figures['seconds']:.2f}", rate, f"{figures['peak_mib']:,.0f}", ratio]
        )


HEADER = ["path", "rows", "seconds", "rows/s", "peak MiB", "ratio"]
LAKE_MAX_ROWS = 5_000_000
"""The Delta rows (issue 14) run up to this size, as they were measured; 20M rows would add minutes."""


def load_rows(sizes: list[int], cache: Path, work: Path, table: Table, figures: dict) -> None:
    """Per size and format: inflate floor, DuckDB baseline, ours (package -> table), each in a child.

    Keeps ``figures[("ours"|"baseline", fmt, size)]``; the CSV tables of the smallest and largest
    size stay in ``work`` for the deltas.
    """
    from lake_rows import lake_rows
    from package_cache import PackageKey, cached_package

    for size in sizes:
        for fmt in FORMATS:
            package = cached_package(cache, PackageKey(rows=size, fmt=fmt))
            encoding = "utf-16" if fmt == "CSV-Unicode" else "utf-8"
            floor = _child("floor", str(package))
            base_db = work / f"base-{size}-{fmt}.duckdb"
            baseline = _child("baseline", str(package), str(base_db), encoding)
            base_db.unlink()
            ours_db = work / f"ours-{size}-{fmt}.duckdb"
            ours = _child("ours", str(package), str(ours_db))
            if fmt != "CSV" or size not in (min(sizes), max(sizes)):
                ours_db.unlink()
            table.measured(f"{fmt} floor (inflate only)", size, floor)
            table.measured(f"{fmt} baseline (extract + read_csv)", size, baseline)
            table.add(
                [f"{fmt} baseline's read_csv alone (vs baseline)", f"{size:,}",
                 f"{baseline['read_csv_seconds']:.2f}", "", "",
                 f"{baseline['read_csv_seconds'] / baseline['seconds']:.2f}x"]
            )  # fmt: skip
            table.measured(f"{fmt} ours (package -> table)", ours["rows"], ours, baseline)
            figures["ours", fmt, size] = ours
            figures["baseline", fmt, size] = baseline
            if fmt == "CSV" and size <= LAKE_MAX_ROWS:  # issue 14
                figures["lake", size] = lake_rows(table, _child, package, work / f"lake-{size}", ours)


def delta_rows(sizes: list[int], cache: Path, work: Path, table: Table, figures: dict) -> None:
    """A 10,000-row delta into the smallest and the largest CSV table, and a 1% delta of the largest.

    Each delta goes into a copy of the table its size's full load left (so each starts from the same
    table; the median of three), and must update exactly its rows (no inserts: every key is there).
    """
    from package_cache import PackageKey, cached_package

    small, large = min(sizes), max(sizes)
    cases = [
        ("delta10k", small, 10_000 / small),
        ("delta10k", large, 10_000 / large),
        ("delta1pct", large, 0.01),
    ]
    for name, size, rate in cases:
        package = cached_package(cache, PackageKey(rows=size, round_=1, since=0, update_rate=rate))
        delta = _median_delta(package, work / f"ours-{size}-CSV.duckdb", work / f"{name}-{size}.duckdb")
        if delta["inserted"] or delta["updated"] != delta["rows"]:
            raise SystemExit(f"the {name} delta into {size:,} rows was not applied as updates: {delta}")
        figures[name, size] = delta
        if name == "delta1pct":
            table.measured(f"delta 1% into {size:,} rows (vs its full reload)", delta["rows"], delta,
                           figures["ours", "CSV", size])  # fmt: skip
        else:
            reference = figures["delta10k", small] if size != small else None
            versus = f" (vs into {small:,})" if reference else ""
            table.measured(f"delta 10k into {size:,} rows{versus}", delta["rows"], delta, reference)
    for size in (small, large):
        (work / f"ours-{size}-CSV.duckdb").unlink(missing_ok=True)
    lake_sizes = [size for size in sizes if size <= LAKE_MAX_ROWS]
    if lake_sizes:  # issue 14: a 1% delta merged into the largest Delta table
        size = max(lake_sizes)
        package = cached_package(cache, PackageKey(rows=size, round_=1, since=0, update_rate=0.01))
        lake = _child("lake", str(package), str(work / f"lake-{size}" / "lake"), "", "delta")
        table.measured(
            "delta 1% merge, Delta local folder (vs its full load)", lake["rows"], lake, figures["lake", size]
        )


def _median_delta(package: Path, table: Path, database: Path, repeats: int = 3) -> dict:
    """The median (by seconds) of ``repeats`` loads of a delta, each into a fresh copy of ``table``."""
    runs = []
    for _ in range(repeats):
        _settled_copy(table, database)
        runs.append(_child("ours", str(package), str(database), "delta"))
        database.unlink()
    return sorted(runs, key=lambda figures: figures["seconds"])[len(runs) // 2]


def _settled_copy(table: Path, database: Path) -> None:
    """Copy ``table`` and write everything still unwritten out to disk before a delta is measured.

    A delta's checkpoint ends in an fsync of the database file, which would also wait for every
    page of a copy made a moment before (1 GB at 20M rows, 0.3 s and more), and behind the write-back
    of the gigabytes the benchmark's previous loads and extracted files left (1.5 s and more): the
    benchmark's own writes, not the delta's work. A table a load left behind has long been on disk.
    """
    shutil.copyfile(table, database)
    os.sync()


def catalog_row(work: Path, executing_seconds: float, table: Table, figures: dict) -> None:
    """The shipped catalog for every company through Dagster, each export Executing a set time."""
    print(f"whole catalog through Dagster (exports of {executing_seconds:.0f} s) ...", flush=True)
    script = Path(__file__).with_name("catalog_refresh.py")
    output = subprocess.run(
        [sys.executable, str(script), str(work / "catalog"), str(executing_seconds)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result = json.loads(output.strip().splitlines()[-1])
    figures["catalog"] = result
    table.add(
        [
            f"whole catalog, 2 companies (exports Executing {executing_seconds:.0f} s, pool of 4)",
            f"{result['exports']} exports",
            f"{result['wall']:.1f} vs ideal {result['ideal']:.1f}",
            "",
            "",
            f"{result['wall'] / result['ideal']:.2f}x",
        ]
    )
    table.add(
        [
            "  its Succeeded -> download start",
            f"{result['exports']} exports",
            f"p50 {result['latency_p50']:.1f}, max {result['latency_max']:.1f}",
        ]
    )


def run(sizes: list[int], work: Path, cache: Path, *, quick: bool = False) -> tuple[Table, dict]:
    table, figures = Table(), {}
    load_rows(sizes, cache, work, table, figures)
    print("deltas ...", flush=True)
    delta_rows(sizes, cache, work, table, figures)
    from download import download_row

    table.add(download_row(min(sizes), work))
    table.add(_fixed_overhead(work))
    print("from Succeeded to the download ...", flush=True)
    table.add(_notice_latency(work, [3, 8, 15, 20] if quick else [3, 7, 12, 18, 25, 33, 42, 52]))
    catalog_row(work, 5.0 if quick else 20.0, table, figures)
    return table, figures


def _notice_latency(work: Path, executing: list[float]) -> list[str]:
    """Seconds from an export turning Succeeded (as the emulator reports it) to its download starting.

    One export per duration in ``executing`` (seconds Executing), all at once, each through its own
    emulator on one shared state, with the client's default polling (``PollOptions()``).
    """
    from concurrent.futures import ThreadPoolExecutor

    from d365_assets.emulator import Emulator, EmulatorConfig
    from d365_assets.fo import PollOptions
    from tests.support.environment import client_for

    polls = PollOptions()
    defaults = {
        "poll_interval": polls.interval,
        "max_poll_interval": polls.max_interval,
        "poll_timeout": polls.timeout,
        "not_found_grace": polls.not_found_grace,
        "url_timeout": polls.url_timeout,
    }

    def latency(seconds: float) -> float:
        config = EmulatorConfig(rows={"VendorsV2": 10}, companies=("USMF",), executing_seconds=seconds)
        state = work / "emulator-latency"
        with Emulator(state, config) as emulator, client_for(emulator, **defaults) as client:
            package = client.export_package(
                data_project="D365A-VendorsV2", legal_entity="USMF", destination_dir=work / "latency"
            )
            finished = emulator.finished_at(package.execution_id)
            download = min(r.at for r in emulator.requests if r.origin == "blob")
        assert finished is not None
        return download - finished

    with ThreadPoolExecutor(max_workers=len(executing)) as pool:
        latencies = list(pool.map(latency, executing))
    label = f"Succeeded -> download start (exports of {min(executing):.0f}-{max(executing):.0f} s)"
    figures = f"p50 {statistics.median(latencies):.1f}, max {max(latencies):.1f}"
    return [label, f"{len(latencies)} exports", figures, "", "", "", ""]


def _fixed_overhead(work: Path) -> list[str]:
    """One materialization of a 10-row entity with zero simulated F&O delay, Dagster step included."""
    code = f"""
import time, dagster as dg
from d365_assets.definitions import build_definitions
from pathlib import Path
from d365_assets.emulator import Emulator, EmulatorConfig
from tests.support.environment import embedded_settings
zero = dict(not_visible_seconds=0, not_run_seconds=0, executing_seconds=0, package_url_delay_seconds=0)
state = {str(work / "emulator-small")!r}
Emulator(state_dir=state, config=EmulatorConfig(rows={{"VendorsV2": 10}}, **zero)).start().stop()
defs = build_definitions(embedded_settings(state, Path({str(work / "small")!r})))
asset = defs.get_assets_def(dg.AssetKey(["d365", "vendors_v2"]))
timings = []
with dg.instance_for_test() as instance:
    for _ in range(4):
        started = time.perf_counter()
        result = dg.materialize([asset], resources=defs.resources, instance=instance, partition_key="USMF")
        assert result.success
        timings.append(time.perf_counter() - started)
print(min(timings[1:]))
"""
    seconds = float(
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    return ["fixed overhead (10-row entity, warm)", "10", f"{seconds:.2f}", "", "", "", ""]


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        names = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"Python {platform.python_version()}, {platform.system()}"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {system}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_measure":
        kind, args = sys.argv[2], sys.argv[3:]
        measure = {"ours": measure_ours, "baseline": measure_baseline, "floor": measure_floor}.get(kind)
        if measure is None:
            from lake_rows import measure_lake

            measure = {"lake": measure_lake}[kind]
        print(json.dumps(measure(*args)))
        return
    from package_cache import default_cache
    from targets import targets

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--quick", action="store_true", help="100k and 200k rows, a smoke run")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where packages are kept")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    sizes = [100_000, 200_000] if args.quick else sorted(set(args.sizes))
    work = Path(tempfile.mkdtemp(prefix="d365-bench-"))
    print(f"machine: {machine()}\nwork folder: {work}\npackage cache: {args.cache}", flush=True)
    started = time.perf_counter()
    try:
        table, figures = run(sizes, work, args.cache, quick=args.quick)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nran {time.perf_counter() - started:.0f} s\n")
    print("| " + " | ".join(HEADER) + " |\n|" + "---|" * len(HEADER))
    for line in table.rows:
        print("| " + " | ".join(line) + " |")
    print("\n| target | measured | |\n|---|---|---|")
    for line in targets(sizes, figures):
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
