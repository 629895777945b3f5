"""Hostile packages for the guarded-load tests: a real exported package with its entity file rewritten.

A test exports a real package from the emulator, rewrites the entity file (drops a column, empties
the file, repeats a row, ...), and leaves the result in the spool as an export an earlier refresh did
not load, so the next refresh reads it through the real path: spool -> reader -> loader.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from d365_assets.catalog import EntityConfig
from d365_assets.fo import D365Client
from d365_assets.package import DataPackage
from d365_assets.schema import RefreshMode
from d365_assets.spool import PackageSpool, SpooledExport

Rows = list[list[str]]


@dataclass(frozen=True)
class EntityText:
    """An entity file decoded: its rows (header first) and how to encode them back."""

    rows: Rows
    encoding: str
    bom: bytes

    @classmethod
    def decode(cls, data: bytes) -> EntityText:
        for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF8, "utf-8")):
            if data.startswith(bom):
                text = data[len(bom) :].decode(encoding)
                return cls(list(csv.reader(io.StringIO(text, newline=""))), encoding, bom)
        return cls(list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""))), "utf-8", b"")

    def encode(self, rows: Rows) -> bytes:
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return self.bom + out.getvalue().encode(self.encoding)


def export_real_package(client: D365Client, entity: EntityConfig, company: str, folder: Path) -> Path:
    """A package F&O (the emulator) exports now for ``entity`` and ``company``."""
    folder.mkdir(parents=True, exist_ok=True)
    return client.export_package(
        data_project=entity.data_project, legal_entity=company, destination_dir=folder
    ).path


def entity_member(package: Path, entity: EntityConfig) -> str:
    """The zip entry that holds the entity's file."""
    with DataPackage.open(package) as opened:
        return opened.entity(entity.label).input_file_path.replace("\\", "/")


def rewrite_entity_file(
    package: Path, entity: EntityConfig, target: Path, change: Callable[[EntityText], bytes]
) -> Path:
    """Copy ``package`` to ``target`` with the entity file replaced by ``change(decoded file)``."""
    member = entity_member(package, entity)
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == member:
                data = change(EntityText.decode(data))
            out.writestr(info.filename, data)
    return target


def spool_as_pending(
    spool: PackageSpool,
    entity: EntityConfig,
    company: str | None,
    package: Path,
    *,
    execution_id: str,
    mode: str,
) -> SpooledExport:
    """Leave ``package`` in the spool as a downloaded export that an earlier refresh did not load."""
    with spool.slot(entity.table_name, company, timeout=10) as slot:
        export = slot.note(execution_id=execution_id, mode=RefreshMode(mode))
    shutil.copyfile(package, export.path)
    return export


def table_state(database: Path, table: str) -> tuple[str, str]:
    """Checksums of the table's rows (every column) and of the load ledger: equal means untouched."""
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(f"SELECT * FROM d365.{table} ORDER BY ALL").fetchall()
        ledger = con.execute("SELECT * FROM d365._load_ledger ORDER BY ALL").fetchall()
    return _digest(rows), _digest(ledger)


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()
