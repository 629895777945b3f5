"""The data package: manifest, header, and typed entity frames read in bounded batches."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import polars as pl
import pyarrow as pa

from .archive import ZipLimits, open_archive
from .convert import convert_frame, empty_frame
from .delimited import DelimitedFile
from .errors import PackageError
from .excel import ExcelFile
from .formats import FileFormat, resolve_format
from .manifest import Manifest, ManifestEntity, PackageHeader, parse_manifest, parse_package_header
from .schema import EntitySchema

__all__ = ["DEFAULT_BATCH_ROWS", "DataPackage"]

DEFAULT_BATCH_ROWS = 250_000
_BLOCK_SIZE = 8 << 20


class DataPackage:
    """An exported DMF data package (a zip), opened with :meth:`open`.

    ::

        with DataPackage.open(path) as package:
            for frame in package.iter_entity_batches("Customers V3", schema=schema):
                ...
    """

    def __init__(
        self,
        archive: zipfile.ZipFile,
        *,
        path: Path,
        header: PackageHeader,
        manifest: Manifest,
        formats: Mapping[str, FileFormat] | None = None,
    ) -> None:
        self._archive = archive
        self.path = path
        self.header = header
        self.manifest = manifest
        self._formats = dict(formats or {})

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        limits: ZipLimits | None = None,
        formats: Mapping[str, FileFormat] | None = None,
    ) -> DataPackage:
        """Open and check a package zip, and parse its ``Manifest.xml`` and ``PackageHeader.xml``."""
        path = Path(path)
        archive = open_archive(path, limits=limits)
        try:
            manifest = parse_manifest(_read_required(archive, path, "Manifest.xml"))
            header = parse_package_header(_read_required(archive, path, "PackageHeader.xml"))
        except BaseException:
            archive.close()
            raise
        return cls(archive, path=path, header=header, manifest=manifest, formats=formats)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the zip file."""
        self._archive.close()

    @property
    def labels(self) -> list[str]:
        """The entity labels of the manifest, in manifest order."""
        return [entity.entity_name for entity in self.manifest.entities]

    def entity(self, label: str) -> ManifestEntity:
        """The manifest entry of entity ``label`` (the DMF label, case-insensitive)."""
        wanted = label.strip().casefold()
        for entity in self.manifest.entities:
            if entity.entity_name.casefold() == wanted:
                return entity
        raise PackageError(
            f"{self.path.name}: entity {label!r} is not in the package (entities: "
            f"{', '.join(repr(x) for x in self.labels) or 'none'}); check the entity's label in the "
            f"catalog and that data project {self.manifest.definition_group!r} exports it"
        )

    def read_entity(
        self, label: str, *, schema: EntitySchema, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> pl.DataFrame:
        """The whole entity as one typed frame (columns in schema order, with the schema's names)."""
        frames = list(self.iter_entity_batches(label, schema=schema, batch_rows=batch_rows))
        if not frames:
            return empty_frame(schema)
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical", rechunk=False)

    def iter_entity_batches(
        self, label: str, *, schema: EntitySchema, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pl.DataFrame]:
        """Typed frames of at most ``batch_rows`` rows; memory stays bounded by the batch size.

        The file's header must name exactly the schema's columns (case-insensitive, any order).
        Raises :class:`PackageValueError` for a value that does not parse as its column's type.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        entity = self.entity(label)
        fmt = resolve_format(entity.source_format, entity=entity.entity_name, formats=self._formats)
        info = self._member(entity)
        where = f"{self.path.name}: entity {entity.entity_name!r} ({info.filename})"
        if fmt.kind == "excel":
            with self._archive.open(info) as member:
                excel = ExcelFile(member, label=entity.entity_name, sheet_name=entity.sheet_name, where=where)
            header, batches = excel.header, excel.batches(batch_rows)
        else:
            delimited = DelimitedFile(
                lambda: self._archive.open(info), fmt, where=where, block_size=_BLOCK_SIZE
            )
            header, batches = delimited.header, delimited.batches()
        if not header:
            return
        names = _match_header(header, schema, where=where)
        yield from _typed(batches, names, schema, entity=entity.entity_name, batch_rows=batch_rows)

    def _member(self, entity: ManifestEntity) -> zipfile.ZipInfo:
        wanted = entity.input_file_path.replace("\\", "/").lstrip("/")
        infos = self._archive.infolist()
        found = next((i for i in infos if i.filename == wanted), None) or next(
            (i for i in infos if i.filename.casefold() == wanted.casefold()), None
        )
        if found is None:
            raise PackageError(
                f"{self.path.name}: the manifest names file {entity.input_file_path!r} for entity "
                f"{entity.entity_name!r}, but the zip has no such entry (entries: "
                f"{', '.join(i.filename for i in infos)}); the package is incomplete: export it again"
            )
        return found


def _read_required(archive: zipfile.ZipFile, path: Path, name: str) -> bytes:
    info = next((i for i in archive.infolist() if i.filename.casefold() == name.casefold()), None)
    if info is None:
        raise PackageError(
            f"{path.name} is not a DMF data package: it has no {name} "
            f"(entries: {', '.join(archive.namelist()) or 'none'})"
        )
    with archive.open(info) as member:
        return member.read()


def _match_header(header: list[str], schema: EntitySchema, *, where: str) -> dict[str, str]:
    """Map file column -> schema column name; raise naming missing or extra columns."""
    seen: dict[str, str] = {}
    for name in header:
        key = name.upper()
        if key in seen:
            raise PackageError(f"{where}: the header names column {name!r} twice")
        seen[key] = name
    missing = [c.name for c in schema if c.name.upper() not in seen]
    extra = [name for name in header if schema.get(name) is None]
    if missing:
        raise PackageError(
            f"{where}: the file lacks column(s) {', '.join(missing)} declared in the catalog "
            f"(file columns: {', '.join(header)}); add them to the data project's field mapping in F&O, "
            "or remove them from the catalog"
        )
    if extra:
        raise PackageError(
            f"{where}: the file has column(s) {', '.join(extra)} the catalog does not declare; "
            "add them (with their types) to the entity's columns in the catalog, or remove them from "
            "the data project's field mapping in F&O"
        )
    return {seen[c.name.upper()]: c.name for c in schema}


def _typed(
    batches: Iterator[pa.RecordBatch],
    names: dict[str, str],
    schema: EntitySchema,
    *,
    entity: str,
    batch_rows: int,
) -> Iterator[pl.DataFrame]:
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    next_row = 1

    def convert(table: pa.Table) -> pl.DataFrame:
        text = pl.from_arrow(table.select(list(names)).rename_columns(list(names.values())))
        assert isinstance(text, pl.DataFrame)
        return convert_frame(text, schema, entity=entity, first_row=next_row)

    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield convert(table.slice(0, batch_rows))
            next_row += batch_rows
            rest = table.slice(batch_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield convert(pa.Table.from_batches(pending))
