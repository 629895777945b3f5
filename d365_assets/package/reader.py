"""The data package: manifest, header, and typed entity frames read in bounded batches."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import polars as pl
import pyarrow as pa

from d365_assets.schema import EntitySchema, Locale

from .archive import ZipLimits, open_archive, open_entry
from .convert import ARROW_CONVERT, arrow_read_types, convert_frame, empty_frame, finish_frame, polars_dtype
from .delimited import ConversionFailed, DelimitedFile
from .drift import ColumnDrift, ColumnPlan, ExtraColumns, plan_columns
from .errors import PackageError
from .excel import ExcelFile
from .formats import FileFormat, resolve_format
from .locales import ValueFormat, value_format
from .manifest import Manifest, ManifestEntity, PackageHeader, parse_manifest, parse_package_header
from .xmlfile import XmlFile

__all__ = ["DEFAULT_BATCH_ROWS", "DataPackage", "EntityFile"]

DEFAULT_BATCH_ROWS = 50_000
"""Rows per typed frame. A load holds a few frames at once (parsed, converted, inserted): at 50,000
rows of a wide ledger entity that is about 100 MiB less at the peak than at 100,000, for the same
speed (measured with bench/ingest.py)."""
_BLOCK_SIZE = 1 << 20
"""Bytes the CSV parser reads and parses at a time. The parser keeps several blocks in flight:
at 4 MiB they took about 100 MiB more than at 1 MiB, and more the longer the file (bench/ingest.py)."""


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
        self,
        label: str,
        *,
        schema: EntitySchema,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        extra_columns: ExtraColumns = "error",
        locale: Locale | None = None,
    ) -> pl.DataFrame:
        """The whole entity as one typed frame (see :meth:`iter_entity_batches` for the columns)."""
        frames = list(
            self.iter_entity_batches(
                label, schema=schema, batch_rows=batch_rows, extra_columns=extra_columns, locale=locale
            )
        )
        if not frames:
            return empty_frame(
                self.open_entity(label, schema=schema).schema if extra_columns == "keep" else schema
            )
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical", rechunk=False)

    def iter_entity_batches(
        self,
        label: str,
        *,
        schema: EntitySchema,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        extra_columns: ExtraColumns = "error",
        locale: Locale | None = None,
    ) -> Iterator[pl.DataFrame]:
        """Typed frames of at most ``batch_rows`` rows; memory stays bounded by the batch size.

        With ``extra_columns="error"`` (the default) the file must hold exactly the schema's
        columns (case-insensitive, any order). With ``"keep"``, frames hold the schema's columns
        (those the file lacks all NULL) and then the file's undeclared columns as text: the columns
        :meth:`open_entity` returns (with what differed).
        Dates and numbers are read in the forms ``locale`` writes (None: ISO, or en-US with its
        AM/PM clock; see :mod:`d365_assets.package.locales`).
        Raises :class:`PackageValueError` for a value that does not parse as its column's type.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        values = value_format(locale)
        source = self._source(label, values)
        if not source.header:
            return
        plan = plan_columns(source.header, schema, where=source.where, extra_columns=extra_columns)
        yield from _typed_batches(source, plan, batch_rows=batch_rows, values=values)

    def open_entity(
        self,
        label: str,
        *,
        schema: EntitySchema,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        locale: Locale | None = None,
    ) -> EntityFile:
        """The entity's file matched to ``schema`` once: header, drift, effective schema and batches.

        Extra file columns are kept (as text) and missing schema columns come back NULL, as with
        ``extra_columns="keep"``; the file is opened once (an Excel workbook is loaded once). When the
        zip lacks the file the manifest names (F&O may leave it out of an export without rows), the
        entity file comes back without a header and with ``in_package`` False. Dates and numbers are
        read in the forms ``locale`` writes, as by :meth:`iter_entity_batches`.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        entity = self.entity(label)
        if self._find_member(entity) is None:
            where = f"{self.path.name}: entity {entity.entity_name!r} ({entity.input_file_path})"
            return EntityFile(
                entity.entity_name, where, (), ColumnDrift(), schema, iter(()), in_package=False
            )
        values = value_format(locale)
        source = self._source(label, values)
        if not source.header:
            return EntityFile(source.entity, source.where, (), ColumnDrift(), schema, iter(()))
        plan = plan_columns(source.header, schema, where=source.where, extra_columns="keep")
        return EntityFile(
            label=source.entity,
            where=source.where,
            header=tuple(source.header),
            drift=plan.drift,
            schema=plan.effective,
            _batches=_typed_batches(source, plan, batch_rows=batch_rows, values=values),
        )

    def _source(self, label: str, values: ValueFormat) -> _Source:
        """The entity's file, opened for its header; batches are read on demand."""
        entity = self.entity(label)
        fmt = resolve_format(entity.source_format, entity=entity.entity_name, formats=self._formats)
        info = self._member(entity)
        where = f"{self.path.name}: entity {entity.entity_name!r} ({info.filename})"

        def open_member() -> IO[bytes]:
            return open_entry(self._archive, info)

        if fmt.kind == "excel":
            with open_member() as member:
                excel = ExcelFile(
                    member,
                    label=entity.entity_name,
                    sheet_name=entity.sheet_name,
                    where=where,
                    decimal_point=values.decimal_point,
                )
            return _Source(entity.entity_name, where, excel.header, excel.batches)
        if fmt.kind == "xml":
            xml = XmlFile(open_member, fields=entity.fields, where=where)
            return _Source(entity.entity_name, where, xml.header, xml.batches)
        delimited = DelimitedFile(open_member, fmt, where=where, block_size=_BLOCK_SIZE)
        return _Source(
            entity.entity_name, where, delimited.header, lambda _rows: delimited.batches(), delimited
        )

    def _find_member(self, entity: ManifestEntity) -> zipfile.ZipInfo | None:
        """The zip entry of the entity's file (the manifest's ``InputFilePath``), or None."""
        wanted = entity.input_file_path.replace("\\", "/").lstrip("/")
        infos = self._archive.infolist()
        return next((i for i in infos if i.filename == wanted), None) or next(
            (i for i in infos if i.filename.casefold() == wanted.casefold()), None
        )

    def _member(self, entity: ManifestEntity) -> zipfile.ZipInfo:
        found = self._find_member(entity)
        if found is None:
            infos = self._archive.infolist()
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
    with open_entry(archive, info) as member:
        return member.read()


@dataclass(frozen=True)
class EntityFile:
    """One entity file of a package, matched to a schema: what it holds, and its typed rows."""

    label: str
    """The entity's DMF label, as the manifest spells it."""
    where: str
    """``<package>: entity '<label>' (<file>)``, for messages."""
    header: tuple[str, ...]
    """The file's column names; empty when the file has no header row (zero bytes, a BOM, a blank line)
    or is not in the package."""
    drift: ColumnDrift
    schema: EntitySchema
    """The columns of the frames :meth:`batches` yields: the schema's, then the file's extra ones as text."""
    _batches: Iterator[pl.DataFrame] = field(repr=False)
    in_package: bool = True
    """False when the zip lacks the file the manifest names for the entity (then it has no rows)."""

    def batches(self) -> Iterator[pl.DataFrame]:
        """The typed frames, in file order (one pass)."""
        return self._batches


@dataclass(frozen=True)
class _Source:
    """An entity file: its name for messages, its header, and its string batches."""

    entity: str
    where: str
    header: list[str]
    batches: Callable[[int], Iterator[pa.RecordBatch]]
    delimited: DelimitedFile | None = None
    """Set for delimited files, which have the typed fast path."""


def _typed_batches(
    source: _Source, plan: ColumnPlan, *, batch_rows: int, values: ValueFormat
) -> Iterator[pl.DataFrame]:
    """The source's typed frames: the delimited fast path, or the text converter (Excel, XML)."""
    if source.delimited is not None:
        return _typed_delimited(
            source.delimited, plan, entity=source.entity, batch_rows=batch_rows, values=values
        )
    return _typed(
        source.batches(batch_rows), plan, entity=source.entity, batch_rows=batch_rows, values=values
    )


def _typed(
    batches: Iterator[pa.RecordBatch], plan: ColumnPlan, *, entity: str, batch_rows: int, values: ValueFormat
) -> Iterator[pl.DataFrame]:
    """Text batches (Excel, XML) typed by the per-column converter."""
    next_row = 1
    for table in _rebatch(batches, batch_rows):
        text = _frame(table, plan)
        frame = convert_frame(text, plan.read, entity=entity, first_row=next_row, values=values)
        yield _with_missing(frame, plan)
        next_row += table.num_rows


def _typed_delimited(
    delimited: DelimitedFile, plan: ColumnPlan, *, entity: str, batch_rows: int, values: ValueFormat
) -> Iterator[pl.DataFrame]:
    """Delimited batches typed by the CSV parser where it can, finished by :func:`finish_frame`.

    When the parser rejects a value, the file is read again from the first row not yet returned,
    with that column as text, so the per-column converter takes its rarer forms or names the row.
    """
    text: frozenset[str] = frozenset()
    done = 0
    while True:
        types = arrow_read_types(plan.read, text=text, values=values)
        file_types = {file: types[name] for file, name in plan.rename.items()}
        try:
            batches = delimited.batches(file_types, skip_rows=done, convert=ARROW_CONVERT)
            for table in _rebatch(batches, batch_rows):
                frame = finish_frame(
                    _frame(table, plan),
                    plan.read,
                    text=text,
                    entity=entity,
                    first_row=done + 1,
                    values=values,
                )
                yield _with_missing(frame, plan)
                done += table.num_rows
            return
        except ConversionFailed as failed:
            text = _as_text(failed, plan, types, text)


def _as_text(
    failed: ConversionFailed, plan: ColumnPlan, types: dict[str, pa.DataType], text: frozenset[str]
) -> frozenset[str]:
    """``text`` plus the column the parser failed on (every parser-typed column if unknown)."""
    typed = {name for name, kind in types.items() if kind != pa.string()}
    name = plan.rename.get(failed.column or "")
    more = {name} if name in typed else typed
    if not more - text:
        raise PackageError(f"cannot convert a value: {failed}") from None
    return text | more


def _rebatch(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``batch_rows`` rows (the last may be shorter), in order."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_rows)
            rest = table.slice(batch_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def _frame(table: pa.Table, plan: ColumnPlan) -> pl.DataFrame:
    """The plan's file columns of ``table`` under their output names."""
    frame = pl.from_arrow(
        table.select(list(plan.rename)).rename_columns(list(plan.rename.values())), rechunk=False
    )
    assert isinstance(frame, pl.DataFrame)
    return frame


def _with_missing(frame: pl.DataFrame, plan: ColumnPlan) -> pl.DataFrame:
    """``frame`` plus the schema columns the file lacks (all NULL), in the effective order."""
    missing = [plan.effective.get(name) for name in plan.drift.missing]
    if not missing:
        return frame
    nulls = [pl.lit(None, polars_dtype(c.type)).alias(c.name) for c in missing if c is not None]
    return frame.with_columns(nulls).select(plan.effective.names)
