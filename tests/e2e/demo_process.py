"""`d365-assets demo` as a real process against an emulator addressed as a real F&O environment.

A :class:`DemoSetup` is one Dagster home, warehouse and package folder; :class:`SpoolWatch` tells, from
the package folder alone, when a demo waits on an accepted export and when it loads a downloaded one.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from d365_assets.emulator import Emulator
from d365_assets.process_owner import ProcessOwner, process_start
from tests.support.environment import process_environment, real_environment_variables

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoSetup:
    """Where one series of demos keeps its Dagster instance, warehouse and packages."""

    folder: Path
    emulator: Emulator
    catalog_path: Path

    @property
    def home(self) -> Path:
        return self.folder / "dagster_home"

    @property
    def warehouse(self) -> Path:
        return Path(self.environment()["D365_DUCKDB_PATH"])

    @property
    def packages(self) -> Path:
        return Path(self.environment()["D365_PACKAGE_DIR"])

    def prepare(self) -> DemoSetup:
        """Create the Dagster home with the repository's dagster.yaml (pools per op, run monitoring)."""
        self.home.mkdir(parents=True)
        (self.home / "dagster.yaml").write_bytes((ROOT / "dagster.yaml").read_bytes())
        return self

    def environment(self) -> dict[str, str]:
        """The demo's environment: the D365_* variables of a real environment, pointed at the emulator."""
        return process_environment(
            real_environment_variables(self.emulator, self.folder),
            D365_CATALOG=str(self.catalog_path),
            DAGSTER_HOME=str(self.home),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",  # a killed demo's output is on disk up to its last line
        )

    def start_demo(self, log: Path) -> subprocess.Popen[bytes]:
        """Start `d365-assets demo` (``python -m d365_assets.cli demo``), its output into ``log``."""
        with log.open("wb") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "d365_assets.cli", "demo"],
                cwd=ROOT,
                env=self.environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )


class SpoolWatch:
    """What the package folder shows: exports accepted and waited on, and packages being loaded.

    An export is noted (``<execution>.json``) as soon as F&O accepts it; its package
    (``<execution>.zip``) appears once downloaded, is loaded at once, and both go when the load commits.
    """

    def __init__(self, packages: Path) -> None:
        self.packages = packages

    def waiting(self) -> set[str]:
        """Executions accepted by F&O whose package is not downloaded yet."""
        return {n.stem for n in self._notes() if not n.with_suffix(".zip").exists()}

    def loading(self) -> set[str]:
        """Executions whose package is downloaded and not yet loaded for good."""
        return {n.stem for n in self._notes() if n.with_suffix(".zip").exists()}

    def _notes(self) -> list[Path]:
        return list(self.packages.glob("*/*/*/*.json")) if self.packages.exists() else []


def descendants(pid: int) -> list[ProcessOwner]:
    """Every process below ``pid`` (its step processes and their forkserver), from ``/proc`` (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        started = process_start(child)
        if started is not None:
            found.append(ProcessOwner(host=socket.gethostname(), pid=child, started=started))
        todo.extend(children.get(child, []))
    return found
