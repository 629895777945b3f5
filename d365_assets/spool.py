"""Where downloaded packages wait until they are loaded.

F&O advances its change-tracking watermark when it exports, not when we load. A delta package
whose load fails (DuckDB held open, the process killed) must therefore not be thrown away: it stays
in the spool and the next refresh of that entity and company loads it before exporting again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

__all__ = ["PackageSpool", "SpooledPackage"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class SpooledPackage:
    """A downloaded package that has not been loaded yet."""

    path: Path
    execution_id: str
    mode: str
    size_bytes: int


class PackageSpool:
    """A folder of downloaded packages, one subfolder per table and company."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder(self, table: str, company: str | None) -> Path:
        """The folder of one table and company (``_shared`` for shared entities), created on demand."""
        folder = self.root / _SAFE.sub("_", table) / _SAFE.sub("_", company or "_shared")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextmanager
    def exclusive(self, table: str, company: str | None, *, timeout: float) -> Iterator[Path]:
        """Hold the refresh of one table and company, so two runs never apply its packages out of order."""
        folder = self.folder(table, company)
        with FileLock(folder / ".refresh.lock", timeout=timeout):
            yield folder

    def record(self, package_path: Path, *, execution_id: str, mode: str) -> SpooledPackage:
        """Note how a downloaded package must be loaded (its sidecar file), before loading it."""
        spooled = SpooledPackage(
            path=package_path, execution_id=execution_id, mode=mode, size_bytes=package_path.stat().st_size
        )
        sidecar = package_path.with_suffix(".json")
        temporary = sidecar.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"execution_id": execution_id, "mode": mode}), encoding="utf-8")
        temporary.replace(sidecar)
        return spooled

    def pending(self, table: str, company: str | None) -> list[SpooledPackage]:
        """Packages of this table and company left by earlier refreshes, oldest first."""
        folder = self.folder(table, company)
        for partial in folder.glob("*.part"):  # a download that was interrupted
            partial.unlink(missing_ok=True)
        found = []
        for sidecar in folder.glob("*.json"):
            package = sidecar.with_suffix(".zip")
            if not package.exists():
                sidecar.unlink(missing_ok=True)
                continue
            details = json.loads(sidecar.read_text(encoding="utf-8"))
            found.append(
                SpooledPackage(
                    path=package,
                    execution_id=details["execution_id"],
                    mode=details["mode"],
                    size_bytes=package.stat().st_size,
                )
            )
        return sorted(found, key=lambda p: p.path.stat().st_mtime_ns)

    def remove(self, package: SpooledPackage) -> None:
        """Forget a package once it is loaded."""
        package.path.with_suffix(".json").unlink(missing_ok=True)
        package.path.unlink(missing_ok=True)
