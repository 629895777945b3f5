"""Streaming a delimited entity file (CSV-Unicode, CSV, ...) out of the zip as text batches.

The zip member is inflated and parsed incrementally by :func:`pyarrow.csv.open_csv` (multi-threaded
C++). Columns are read as strings (exact, empty stays ``""``) unless the caller names other types;
a value the parser cannot convert raises :class:`ConversionFailed` naming the column, so the caller
can read that column as text instead. Memory stays bounded by the block size, whatever the file
size. Quoted delimiters, doubled quotes and quoted line breaks (``newlines_in_values``) are handled
by the parser.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from .errors import PackageError
from .formats import FileFormat

__all__ = ["ConversionFailed", "DelimitedFile"]

OpenMember = Callable[[], IO[bytes]]
_CONVERSION = re.compile(r"^In CSV column #(\d+): ")


class ConversionFailed(Exception):
    """The CSV parser could not convert a value of header column ``column`` (None: unknown column)."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column


class DelimitedFile:
    """One delimited entity file: its header and a stream of string-typed Arrow record batches."""

    def __init__(self, open_member: OpenMember, fmt: FileFormat, *, where: str, block_size: int) -> None:
        self._open = open_member
        self._format = fmt
        self._where = where
        self._block_size = block_size
        with self._open() as stream:
            start = stream.read(4)
        self.encoding = _encoding(start, fmt.encoding)
        self.empty = start == b""
        self.header: list[str] = [] if self.empty else self._read_header()

    def batches(
        self,
        column_types: Mapping[str, pa.DataType] | None = None,
        *,
        skip_rows: int = 0,
        convert: Mapping[str, Any] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Record batches in file order, from data row ``skip_rows + 1`` on.

        Columns are ``string`` (empty stays ``""``) unless ``column_types`` (header name -> type)
        says otherwise; ``convert`` holds the :class:`pyarrow.csv.ConvertOptions` arguments for
        those (null values, true/false values, timestamp parsers).
        """
        if self.empty:
            return
        types = {name: pa.string() for name in self.header} | dict(column_types or {})
        stream = self._open()
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    encoding=_arrow_encoding(self.encoding),
                    block_size=self._block_size,
                    use_threads=True,
                    skip_rows_after_names=skip_rows,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self._format.delimiter,
                    quote_char=self._format.quote_char,
                    double_quote=True,
                    newlines_in_values=True,
                    # In a one-column file an empty line is an empty value, not a blank line.
                    ignore_empty_lines=len(self.header) != 1,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    strings_can_be_null=False,
                    **({"null_values": []} | dict(convert or {})),
                ),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        except pa.ArrowInvalid as exc:
            raise self._failure(exc) from None
        except UnicodeDecodeError as exc:
            raise PackageError(f"{self._where}: cannot parse the file: {exc}") from None
        finally:
            stream.close()

    def _failure(self, exc: pa.ArrowInvalid) -> Exception:
        """A conversion failure (naming the column) or a :class:`PackageError` for a parse error."""
        message = str(exc)
        match = _CONVERSION.match(message)
        if match is None:
            return PackageError(f"{self._where}: cannot parse the file: {message}")
        index = int(match.group(1))
        return ConversionFailed(self.header[index] if index < len(self.header) else None, message)

    def _read_header(self) -> list[str]:
        with self._open() as stream:
            text = io.TextIOWrapper(stream, encoding=self.encoding, newline="")
            try:
                row = next(
                    csv.reader(text, delimiter=self._format.delimiter, quotechar=self._format.quote_char)
                )
            except StopIteration:
                return []
            except (UnicodeDecodeError, csv.Error) as exc:
                raise PackageError(f"{self._where}: cannot read the header row ({exc})") from None
        return [name.strip() for name in row]


def _encoding(start: bytes, default: str) -> str:
    """The Python encoding of a file starting with ``start``: a BOM wins over ``default``."""
    if start.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return default


def _arrow_encoding(encoding: str) -> str:
    """Arrow decodes UTF-8 natively (skipping a BOM); other encodings go through Python codecs."""
    name = codecs.lookup(encoding).name
    return "utf8" if name in ("utf-8", "utf-8-sig") else encoding
