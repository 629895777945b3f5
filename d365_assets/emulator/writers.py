"""Writing one entity data file into a package zip, per source format kind (delimited, XML, Excel)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from .formats import SourceFormat

__all__ = ["write_data_file"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_LITERAL_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_XML_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
)


def write_data_file(
    archive: zipfile.ZipFile,
    name: str,
    fmt: SourceFormat,
    *,
    header: Sequence[str],
    rows: Iterable[list[str]],
    record_element: str,
    sheet_name: str,
    chunk_rows: int = 5000,
) -> int:
    """Write ``rows`` (text fields in ``header`` order) as member ``name``; returns the row count."""
    if fmt.kind == "excel":
        return _write_excel(archive, name, header=header, rows=rows, sheet_name=sheet_name)
    with archive.open(name, "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, newline="", write_through=False)
        if fmt.bom:
            text.write("\ufeff")
        if fmt.kind == "xml":
            count = _write_xml(text, fmt, header=header, rows=rows, record_element=record_element)
        else:
            count = _write_delimited(text, fmt, header=header, rows=rows, chunk_rows=chunk_rows)
        text.flush()
        text.detach()
    return count


def _write_delimited(
    text: io.TextIOWrapper,
    fmt: SourceFormat,
    *,
    header: Sequence[str],
    rows: Iterable[list[str]],
    chunk_rows: int,
) -> int:
    """Header row, then rows: CRLF, ``"`` qualifier, embedded quotes doubled (RFC 4180)."""
    writer = csv.writer(text, delimiter=fmt.delimiter, quotechar='"', lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    batch: list[list[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk_rows:
            writer.writerows(batch)
            count += len(batch)
            batch.clear()
    writer.writerows(batch)
    return count + len(batch)


def _write_xml(
    text: io.TextIOWrapper,
    fmt: SourceFormat,
    *,
    header: Sequence[str],
    rows: Iterable[list[str]],
    record_element: str,
) -> int:
    """``<Document>`` with one ``record_element`` per row; empty fields as ``<F />`` or no attribute."""
    declared = "utf-16" if fmt.encoding.lower().startswith("utf-16") else fmt.encoding
    text.write(f'<?xml version="1.0" encoding="{declared}"?>\r\n<Document>\r\n')
    count = 0
    for row in rows:
        if fmt.xml_style == "attribute":
            attrs = "".join(
                f' {name}="{value.translate(_XML_ATTR)}"'
                for name, value in zip(header, row, strict=True)
                if value
            )
            text.write(f"\t<{record_element}{attrs} />\r\n")
        else:
            fields = "".join(
                f"\t\t<{name}>{value.translate(_XML_TEXT)}</{name}>\r\n" if value else f"\t\t<{name} />\r\n"
                for name, value in zip(header, row, strict=True)
            )
            text.write(f"\t<{record_element}>\r\n{fields}\t</{record_element}>\r\n")
        count += 1
    text.write("</Document>\r\n")
    return count


def _write_excel(
    archive: zipfile.ZipFile, name: str, *, header: Sequence[str], rows: Iterable[list[str]], sheet_name: str
) -> int:
    """An xlsx workbook: one sheet ``sheet_name``, upper-case headers in row 1, every cell text."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])
    sheet.append(list(header))
    count = 0
    for row in rows:
        sheet.append([_excel_text(sheet, value) for value in row])
        count += 1
    with tempfile.TemporaryFile() as spool:
        book.save(spool)
        spool.seek(0)
        with archive.open(name, "w", force_zip64=True) as member:
            shutil.copyfileobj(spool, member, 1 << 20)
    return count


def _excel_text(sheet: WriteOnlyWorksheet, value: str) -> str | WriteOnlyCell:
    """``value`` as Excel stores text: control characters (CR) as ``_xHHHH_``, never a formula."""
    if "_x" in value or _CONTROL.search(value):
        value = _CONTROL.sub(
            lambda m: f"_x{ord(m.group(0)):04X}_", _LITERAL_ESCAPE.sub(r"_x005F\g<0>", value)
        )
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    return cell
