"""Reading an ``EXCEL`` entity file (``.xlsx``) as text rows, with openpyxl in read-only mode."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any
from xml.etree.ElementTree import ParseError

import openpyxl
import pyarrow as pa

from .errors import PackageError

__all__ = ["ExcelFile"]

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DUMMY_PREFIX = "This is a string that is inserted into Excel as a dummy cell"
# What openpyxl raises, while reading rows, for a malformed sheet (bad XML, cell reference, number).
_MALFORMED_SHEET = (ParseError, ValueError, KeyError, IndexError)


class ExcelFile:
    """The entity sheet of an xlsx file: its header and string record batches.

    The sheet is ``sheet_name`` when given, else the label with spaces as underscores (what F&O
    writes), else the first sheet. F&O's dummy "more than 255 characters" row is skipped. F&O writes
    every cell as text; a cell typed as a number is written with ``decimal_point`` (the data project's
    locale's), one typed as a date in ISO form, so the locale's reader takes them as they are.
    """

    def __init__(
        self, member: IO[bytes], *, label: str, sheet_name: str | None, where: str, decimal_point: str = "."
    ) -> None:
        self._where = where
        self._point = decimal_point
        try:
            self._book = openpyxl.load_workbook(io.BytesIO(member.read()), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise PackageError(f"{where}: not a readable xlsx workbook ({exc})") from None
        names = self._book.sheetnames
        wanted = [n for n in (sheet_name, label.replace(" ", "_"), label) if n]
        chosen = next((n for n in wanted if n in names), names[0] if names else None)
        if chosen is None:
            raise PackageError(f"{where}: the workbook has no sheet")
        self._rows = _checked(self._book[chosen].iter_rows(values_only=True), where)
        first = next(self._rows, None)
        self.header = [_text(v).strip() for v in first] if first else []
        if first is not None and not any(self.header):
            raise PackageError(f"{where}: the first row, the header row, is empty; export the file again")
        while self.header and not self.header[-1]:
            self.header.pop()

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """String record batches of at most ``batch_rows`` rows."""
        width = len(self.header)
        chunk: list[list[str]] = []
        try:
            for values in self._rows:
                row = [_text(v, self._point) for v in values[:width]]
                row += [""] * (width - len(row))
                if not any(row) or row[0].startswith(_DUMMY_PREFIX):
                    continue
                chunk.append(row)
                if len(chunk) >= batch_rows:
                    yield _batch(self.header, chunk)
                    chunk = []
            if chunk:
                yield _batch(self.header, chunk)
        finally:
            self._book.close()


def _checked(rows: Iterator[tuple[Any, ...]], where: str) -> Iterator[tuple[Any, ...]]:
    """``rows``; a malformed sheet raises :class:`PackageError` instead of openpyxl's exception."""
    try:
        yield from rows
    except _MALFORMED_SHEET as exc:
        raise PackageError(
            f"{where}: the sheet is malformed ({type(exc).__name__}: {exc}); export the file again"
        ) from None


def _batch(header: list[str], rows: list[list[str]]) -> pa.RecordBatch:
    columns = [pa.array([row[i] for row in rows], type=pa.string()) for i in range(len(header))]
    return pa.RecordBatch.from_arrays(columns, names=header)


def _text(value: object, point: str = ".") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return str(Decimal(repr(value))).replace(".", point) if not value.is_integer() else str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _ESCAPED.sub(_unescape, value) if isinstance(value, str) and "_x" in value else str(value)


def _unescape(match: re.Match[str]) -> str:
    """OOXML's ``_xHHHH_`` escape (``_x000D_`` is a carriage return; ``_x005F_`` a literal ``_``)."""
    return chr(int(match.group(1), 16))
