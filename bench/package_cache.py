"""Benchmark packages, built once by the emulator's own package writer and kept between runs.

A 20M-row general-ledger package takes many minutes to generate (the emulator renders every row in
Python), so the benchmark keeps each one in a cache folder (``--cache``; ``~/.cache/d365-bench`` by
default). A package's file name carries everything that decides its bytes: the generator version (a
hash of the emulator's data and package modules), the rows, the format and the change round, so a
change to the generator or a different size builds a new one and never reuses a stale file. A
package is written to a temporary name and renamed when whole: an interrupted build leaves nothing
that a later run could take for a package.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

GL = "GeneralJournalAccountEntries"
COMPANY = "USMF"
SEED = 20260301
_GENERATOR_MODULES = (
    "changes.py", "datagen.py", "dataset.py", "entities.py", "formats.py", "layout.py",
    "package.py", "render.py", "writers.py",
)  # fmt: skip
"""The emulator modules whose code decides a package's bytes (their hash is the generator version)."""


def default_cache() -> Path:
    """``$D365_BENCH_CACHE``, else ``$XDG_CACHE_HOME/d365-bench`` (``~/.cache/d365-bench``)."""
    if os.environ.get("D365_BENCH_CACHE"):
        return Path(os.environ["D365_BENCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "d365-bench"


def generator_version() -> str:
    """A short hash of the emulator code that generates, renders and packs the rows."""
    import d365_assets.emulator as emulator

    digest = hashlib.sha256()
    folder = Path(emulator.__file__).parent
    for name in _GENERATOR_MODULES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class PackageKey:
    """One cached package: ``rows`` GL rows of USMF at activity round ``round_`` in ``fmt``.

    With ``since`` it is the delta from that round (rows inserted or updated after it), under an
    ``update_rate`` share of rows changed per round.
    """

    rows: int
    fmt: str = "CSV"
    round_: int = 0
    since: int | None = None
    update_rate: float = 0.0

    def file_name(self, version: str) -> str:
        delta = f"-delta{self.since}-u{self.update_rate:g}" if self.since is not None else ""
        return f"gl-{version}-{self.rows}-{self.fmt}-r{self.round_}{delta}.zip"


def cached_package(cache: Path, key: PackageKey) -> Path:
    """The package for ``key`` from ``cache``, building (and keeping) it first when missing."""
    path = cache / key.file_name(generator_version())
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    print(f"building {path.name} (once; kept in {cache}) ...", flush=True)
    _build(path, key)  # write_package writes a temporary file and renames it when whole
    return path


def _build(path: Path, key: PackageKey) -> int:
    from d365_assets.emulator.dataset import ActivityRates, Dataset
    from d365_assets.emulator.entities import find_entity
    from d365_assets.emulator.layout import EntityLayout
    from d365_assets.emulator.package import PackageSpec, write_package
    from d365_assets.emulator.render import row_renderer

    entity = find_entity(GL)
    dataset = Dataset(
        seed=SEED,
        companies=(COMPANY,),
        rows={GL: key.rows},
        rates=ActivityRates(insert=0.0, update=key.update_rate, delete=0.0),
    )
    layout = EntityLayout(entity)
    spec = PackageSpec(
        project=f"BENCH-GL-{key.fmt}",
        entity=entity,
        source_format=key.fmt,
        incremental=key.since is not None,
        layout=layout,
    )
    raw = dataset.raw_rows(entity, COMPANY, round_=key.round_, since=key.since)
    render = row_renderer(layout.column_types, locale="ISO")
    return write_package(path, spec, render(layout.apply(raw)))
