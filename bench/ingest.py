"""Benchmark: package zip -> typed DuckDB table, against DuckDB's own read_csv and the inflate floor.

Run ``.venv/bin/python bench/ingest.py`` (``--sizes 1000000 5000000`` by default; ``--quick`` for a
200k-row smoke run). Every figure comes from this one run on this machine, so compare the ratios.
Each measured path runs in its own child process; peak RSS is that process's maximum resident set
(VmHWM; the figures include the interpreter and imports).

Paths per package (GeneralJournalAccountEntries, CSV and CSV-Unicode):
  ours      DataPackage.iter_entity_batches -> Warehouse.load (full), what a materialization does
  baseline  extract the entity file to disk, then DuckDB read_csv with explicit types
  floor     inflate the entity file out of the zip and discard it (zlib is single-threaded)
  lake      the same package -> a Delta table (D365_DESTINATION=delta) in a local folder and on
            Azurite over HTTPS (when installed: make azurite), beside ours
Plus: a delta changing ~1% of the largest table against its full reload, the fixed overhead of one
materialization of a 10-row entity, the download rate against a plain httpx stream, and how soon the
client notices a finished export (from Succeeded to its download starting, with the default polling).
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


def measure_ours(package: str, database: str, mode: str = "full") -> dict:
    from d365_assets.catalog import load_catalog
    from d365_assets.package import DataPackage
    from d365_assets.warehouse import LoadRequest, Warehouse

    entity = load_catalog().entity(GL)
    started = time.perf_counter()
    with DataPackage.open(Path(package)) as data:
        result = Warehouse(database).load(
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
    return {"seconds": time.perf_counter() - started, "rows": result.rows_read, "peak_mib": _peak_mib()}


def measure_baseline(package: str, database: str, encoding: str) -> dict:
    import duckdb

    from d365_assets.catalog import load_catalog

    entity = load_catalog().entity(GL)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(package) as archive:
        member = next(n for n in archive.namelist() if n.startswith(GL_LABEL))
        path = archive.extract(member, tmp)
        types = {c.name: c.type.duckdb_type for c in entity.schema}
        with duckdb.connect(database) as con:
            con.execute(
                "CREATE TABLE gl AS SELECT * FROM read_csv(?, header=true, columns=?, encoding=?, "
                "quote='\"', escape='\"')",
                [path, types, encoding],
            )
            rows = con.execute("SELECT count(*) FROM gl").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mib": _peak_mib()}


def measure_floor(package: str) -> dict:
    started = time.perf_counter()
    with zipfile.ZipFile(package) as archive:
        member = next(n for n in archive.namelist() if n.startswith(GL_LABEL))
        with archive.open(member) as stream:
            while stream.read(1 << 20):
                pass
    return {"seconds": time.perf_counter() - started, "rows": 0, "peak_mib": _peak_mib()}


# -- the Delta lake destination (issue 14): kept apart from the DuckDB paths above --------------


def measure_lake(package: str, uri: str, azurite_url: str = "", mode: str = "full") -> dict:
    """``ours`` into a Delta table at ``uri`` (a folder, or ``az://`` on Azurite at ``azurite_url``)."""
    from d365_assets.catalog import load_catalog
    from d365_assets.lake import DeltaLake, LakeConfig
    from d365_assets.loading import LoadRequest
    from d365_assets.package import DataPackage
    from tests.support.azurite import ACCOUNT, ACCOUNT_KEY

    entity = load_catalog().entity(GL)
    azure = {"account_name": ACCOUNT, "account_key": ACCOUNT_KEY, "azurite_url": azurite_url}
    lake = DeltaLake(LakeConfig(uri, **(azure if azurite_url else {})))
    started = time.perf_counter()
    with DataPackage.open(Path(package)) as data:
        result = lake.load(
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
    return {"seconds": time.perf_counter() - started, "rows": result.rows_read, "peak_mib": _peak_mib()}


def _lake_rows(row, package: Path, work: Path, ours: dict) -> dict:
    """The CSV package into a Delta table in a folder and on Azurite (HTTPS), each against ``ours``;
    returns the folder's figures (its table, ``work / "lake"``, takes the delta later)."""
    local = _child("lake", str(package), str(work / "lake"))
    row("CSV -> Delta, local folder (vs ours)", ours["rows"], local, ours)
    from tests.support.azurite import azurite_missing, running_azurite, trust_bundle

    if azurite_missing():
        print(f"  (no Azurite row: {azurite_missing()})", flush=True)
        return local
    with running_azurite(work / "azurite") as azurite:
        os.environ["SSL_CERT_FILE"] = str(trust_bundle(azurite.ca, work / "azurite"))
        container = azurite.new_container()
        figures = _child("lake", str(package), f"az://{container}/d365", azurite.url)
        row("CSV -> Delta, Azurite https (vs ours)", ours["rows"], figures, ours)
    return local


def _child(kind: str, *args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "_measure", kind, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# -- the emulator side -----------------------------------------------------------------------


def _emulator(state: Path, rows: int, **config: object):
    from d365_assets.emulator import DataProject, Emulator, EmulatorConfig

    projects = {
        name: DataProject(name=name, entity=GL_LABEL, source_format=fmt, refresh="full", locale="ISO")
        for fmt, name in FORMATS.items()
    }
    projects["BENCH-GL-Delta"] = DataProject(
        name="BENCH-GL-Delta", entity=GL_LABEL, source_format="CSV", refresh="incremental", locale="ISO"
    )
    lifecycle = {k: 0.0 for k in ("not_visible_seconds", "not_run_seconds", "executing_seconds")}
    return Emulator(
        state_dir=state,
        config=EmulatorConfig(
            rows={GL: rows},
            companies=("USMF",),
            extra_projects=projects,
            package_url_delay_seconds=0.0,
            **lifecycle,
            **config,
        ),
    ).start()


def _client(emulator):
    """The product's client of the emulator addressed as a real environment (tests.support.environment)."""
    from d365_assets.fo import RetryPolicy
    from tests.support.environment import client_for

    # Millions of rows take minutes to export and to package: wait and retry as against a real F&O.
    return client_for(
        emulator, poll_timeout=3600.0, not_found_grace=600.0, url_timeout=600.0, retry=RetryPolicy()
    )


def _export(client, project: str, folder: Path) -> tuple[Path, float]:
    package = client.export_package(data_project=project, legal_entity="USMF", destination_dir=folder)
    return package.path, package.size_bytes / 1e6 / max(package.download_seconds, 1e-9)


def _plain_download_rate(client, emulator, project: str, folder: Path) -> float:
    import httpx

    execution = client.export_to_package(data_project=project, legal_entity="USMF")
    client.wait_for_execution(execution)
    url = client.wait_for_package_url(execution)
    target = folder / "plain.zip"
    started = time.perf_counter()
    size = 0
    with (
        httpx.Client(verify=str(emulator.ca_bundle), trust_env=False) as plain,
        plain.stream("GET", url) as response,
    ):
        response.raise_for_status()
        with target.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
                size += len(chunk)
    return size / 1e6 / (time.perf_counter() - started)


# -- the run ---------------------------------------------------------------------------------


def run(sizes: list[int], work: Path, *, quick: bool = False) -> list[list[str]]:
    table: list[list[str]] = []

    def row(
        label: str, rows: int, figures: dict, reference: dict | None = None, floor: dict | None = None
    ) -> None:
        rate = f"{rows / figures['seconds']:,.0f}" if rows else "-"
        ratio = f"{figures['seconds'] / reference['seconds']:.2f}x" if reference else ""
        floor_ratio = f"{figures['seconds'] / floor['seconds']:.2f}x" if floor else ""
        table.append(
            [
                label,
                f"{rows:,}",
                f"{figures['seconds']:.2f}",
                rate,
                f"{figures['peak_mib']:,.0f}",
                ratio,
                floor_ratio,
            ]
        )
        print("  " + " | ".join(table[-1]), flush=True)

    largest: dict[str, object] = {}
    for size in sizes:
        state = work / f"emulator-{size}"
        with (
            _emulator(state, size, update_rate=0.01, insert_rate=0.0, delete_rate=0.0) as emulator,
            _client(emulator) as client,
        ):
            for fmt, project in FORMATS.items():
                print(f"exporting {size:,} rows as {fmt} ...", flush=True)
                package, _ = _export(client, project, work / "packages")
                encoding = "utf-16" if fmt == "CSV-Unicode" else "utf-8"
                floor = _child("floor", str(package))
                baseline = _child("baseline", str(package), str(work / f"base-{size}-{fmt}.duckdb"), encoding)
                ours_db = work / f"ours-{size}-{fmt}.duckdb"
                ours = _child("ours", str(package), str(ours_db))
                row(f"{fmt} floor (inflate only)", size, floor)
                row(f"{fmt} baseline (extract + read_csv)", size, baseline)
                row(f"{fmt} ours (package -> table)", ours["rows"], ours, baseline, floor)
                if fmt == "CSV":
                    largest = {"size": size, "db": ours_db, "full": ours, "state": state}
                    largest["lake"] = _lake_rows(row, package, work / f"lake-{size}", ours)  # issue 14
                package.unlink()
            if size == max(sizes):
                print("delta of ~1% against the full reload ...", flush=True)
                _export(client, "BENCH-GL-Delta", work / "packages")[0].unlink()  # first export: full
                emulator.advance_activity(1)
                delta_package, _ = _export(client, "BENCH-GL-Delta", work / "packages")
                delta = _child("ours", str(delta_package), str(largest["db"]), "delta")
                row("delta ~1% upsert (vs its full reload)", delta["rows"], delta, largest["full"])
                lake = _child("lake", str(delta_package), str(work / f"lake-{size}" / "lake"), "", "delta")
                row(
                    "delta ~1% merge, Delta local folder (vs its full load)",
                    lake["rows"],
                    lake,
                    largest["lake"],
                )
                print("download rate ...", flush=True)
                package, ours_rate = _export(client, FORMATS["CSV"], work / "packages")
                plain_rate = _plain_download_rate(client, emulator, FORMATS["CSV"], work / "packages")
                table.append(
                    [
                        "download (client vs plain httpx, MB/s)",
                        f"{package.stat().st_size / 1e6:,.0f} MB",
                        f"{ours_rate:,.0f} vs {plain_rate:,.0f}",
                        "",
                        "",
                        f"{ours_rate / plain_rate:.2f}x",
                        "",
                    ]
                )
                print("  " + " | ".join(table[-1]), flush=True)
    table.append(_fixed_overhead(work))
    print("  " + " | ".join(table[-1]), flush=True)
    print("from Succeeded to the download ...", flush=True)
    table.append(_notice_latency(work, [3, 8, 15, 20] if quick else [3, 7, 12, 18, 25, 33, 42, 52]))
    print("  " + " | ".join(table[-1]), flush=True)
    return table


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
        measure = measure or {"lake": measure_lake}[kind]
        print(json.dumps(measure(*args)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--quick", action="store_true", help="one 200k-row size, for a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    sizes = [200_000] if args.quick else sorted(args.sizes)
    work = Path(tempfile.mkdtemp(prefix="d365-bench-"))
    print(f"machine: {machine()}\nwork folder: {work}", flush=True)
    try:
        table = run(sizes, work, quick=args.quick)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    header = ["path", "rows", "seconds", "rows/s", "peak MiB", "vs baseline", "vs floor"]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for line in table:
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
