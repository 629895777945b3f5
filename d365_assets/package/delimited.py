"""Streaming a delimited entity file (CSV-Unicode, CSV, ...) out of the zip as text batches.

The zip member is inflated and parsed incrementally by :func:`pyarrow.csv.open_csv` (multi-threaded
C++). Columns are read as strings (exact, empty stays ``""``) unless the caller names other types;
a value the parser cannot convert raises :class:`ConversionFailed` naming the column, so the caller
can read that column as text instead. Memory stays bounded by the block size, whatever the file
size. Quoted delimiters, doubled quotes and quoted line breaks (``newlines_in_values``) are handled
by the parser.

A quote left open at the end of the file would make the parser take everything up to the end as
the last value. To see that without a second pass, the parser reads the file followed by an end
marker: one more row of empty fields. When the file is whole, the marker is the last row read (and
is dropped); when a quote is still open, the marker's bytes land inside the last value instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from .errors import PackageError
from .formats import FileFormat

__all__ = ["ConversionFailed", "DelimitedFile"]

OpenMember = Callable[[], IO[bytes]]
_CONVERSION = re.compile(r"^In CSV column #(\d+): ")
_MALFORMED = "the file is truncated or malformed: export it again"


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
        self._marker = _EndMarker.of(
            _plain_encoding(start, self.encoding), delimiter=fmt.delimiter, width=len(self.header)
        )

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
        stream = _WithEndMarker(self._open(), self._marker)
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
            yield from self._without_end_marker(reader, first_row=skip_rows + 1)
        except pa.ArrowInvalid as exc:
            raise self._failure(exc, types) from None
        except UnicodeDecodeError as exc:
            raise PackageError(f"{self._where}: cannot parse the file: {exc}; {_MALFORMED}") from None
        finally:
            stream.close()

    def _without_end_marker(
        self, reader: pacsv.CSVStreamingReader, *, first_row: int
    ) -> Iterator[pa.RecordBatch]:
        """The reader's batches, one behind, so the last row can be checked for the end marker."""
        held: pa.RecordBatch | None = None
        rows = 0
        for batch in reader:
            if batch.num_rows == 0:
                continue
            if held is not None:
                yield held
            held, rows = batch, rows + batch.num_rows
        last = None if held is None else held.column(held.num_columns - 1)[held.num_rows - 1].as_py()
        if held is None or last not in ("", None):
            where = f"data row {first_row + rows - 1}" if rows else "the header row"
            raise PackageError(
                f"{self._where}: a quoted value in {where} is never closed: the rest of the file would "
                f"be read into it; {_MALFORMED}"
            )
        if held.num_rows > 1:
            yield held.slice(0, held.num_rows - 1)

    def _failure(self, exc: pa.ArrowInvalid, types: Mapping[str, pa.DataType]) -> Exception:
        """A conversion failure (naming the column) or a :class:`PackageError` for a parse error."""
        message = str(exc)
        match = _CONVERSION.match(message)
        if match is None:
            return PackageError(f"{self._where}: cannot parse the file: {message}; {_MALFORMED}")
        index = int(match.group(1))
        column = self.header[index] if index < len(self.header) else None
        if column is not None and types.get(column) == pa.string():
            # Reading as text again cannot help: the bytes are not text in the file's encoding.
            return PackageError(
                f"{self._where}: column {column} holds bytes that are not valid {self.encoding} text "
                f"({message}); check the encoding of the data project's source data format, or export "
                "the file again"
            )
        return ConversionFailed(column, message)

    def _read_header(self) -> list[str]:
        with self._open() as stream:
            text = io.TextIOWrapper(stream, encoding=self.encoding, newline="")
            try:
                # strict: a quote left open raises (instead of taking the rest of the file).
                row = next(
                    csv.reader(
                        text, delimiter=self._format.delimiter, quotechar=self._format.quote_char, strict=True
                    )
                )
            except StopIteration:
                return []
            except (UnicodeDecodeError, csv.Error) as exc:
                raise PackageError(
                    f"{self._where}: cannot read the header row ({exc}); {_MALFORMED}"
                ) from None
        if not row:
            raise PackageError(f"{self._where}: the first line, the header row, is empty; {_MALFORMED}")
        return [name.strip() for name in row]


@dataclass(frozen=True)
class _EndMarker:
    """A row of empty fields, encoded as the file is, and the line breaks it must follow."""

    row: bytes
    line_break: bytes
    line_ends: tuple[bytes, ...]

    @classmethod
    def of(cls, encoding: str, *, delimiter: str, width: int) -> _EndMarker:
        """The marker for a file of ``width`` columns; a one-column file's is an empty line."""

        def encode(text: str) -> bytes:
            return _without_bom(text.encode(encoding))

        return cls(
            row=encode(delimiter * max(width - 1, 0) + "\r\n"),
            line_break=encode("\r\n"),
            line_ends=(encode("\r"), encode("\n")),
        )


class _WithEndMarker(io.RawIOBase):
    """``stream``'s bytes, then ``marker``'s row (after a line break if the bytes lack a final one)."""

    def __init__(self, stream: IO[bytes], marker: _EndMarker) -> None:
        super().__init__()
        self._stream = stream
        self._marker = marker
        self._tail = b""
        self._rest: bytes | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        data = b""
        if self._rest is None:
            data = self._stream.read(size)
            self._tail = (self._tail + data[-4:])[-4:]
            if 0 <= size <= len(data):
                return data
            # A short read: the stream has ended (it is a buffered stream).
            ended = not self._tail or self._tail.endswith(self._marker.line_ends)
            self._rest = (b"" if ended else self._marker.line_break) + self._marker.row
        room = len(self._rest) if size < 0 else size - len(data)
        data, self._rest = data + self._rest[:room], self._rest[room:]
        return data

    def close(self) -> None:
        self._stream.close()
        super().close()


def _plain_encoding(start: bytes, encoding: str) -> str:
    """The encoding, with its byte order if a BOM gave it, that writes text without a BOM."""
    if start.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if start.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    return "utf-8" if encoding == "utf-8-sig" else encoding


def _without_bom(data: bytes) -> bytes:
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if data.startswith(bom):
            return data[len(bom) :]
    return data


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
