"""Streaming a delimited entity file (CSV-Unicode, CSV, ...) out of the zip as text batches.

The zip member is inflated and parsed incrementally by :func:`pyarrow.csv.open_csv` (multi-threaded
C++, exact: every column is read as a string). Memory stays bounded by the block size, whatever the
file size. Quoted delimiters, doubled quotes and quoted line breaks (``newlines_in_values``) are
handled by the parser.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv

from .errors import PackageError
from .formats import FileFormat

__all__ = ["DelimitedFile"]

OpenMember = Callable[[], IO[bytes]]


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

    def batches(self) -> Iterator[pa.RecordBatch]:
        """String record batches, in file order, every column typed ``string`` (empty stays ``""``)."""
        if self.empty:
            return
        stream = self._open()
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    encoding=_arrow_encoding(self.encoding), block_size=self._block_size, use_threads=True
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
                    column_types={name: pa.string() for name in self.header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                ),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise PackageError(f"{self._where}: cannot parse the file: {exc}") from None
        finally:
            stream.close()

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
