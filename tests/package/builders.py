"""Build DMF data packages (real zips) for the reader's tests."""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl

NS = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement"


@dataclass
class EntityFile:
    label: str
    data: bytes
    source_format: str = "CSV-Unicode"
    file_name: str | None = None
    fields: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return self.file_name or f"{self.label}.csv"


def csv_text(rows: list[list[str]]) -> str:
    """RFC 4180 text with CRLF rows; values with comma, quote or line break are quoted."""

    def field(value: str) -> str:
        if any(ch in value for ch in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(",".join(field(v) for v in row) + "\r\n" for row in rows)


def unicode_csv(rows: list[list[str]]) -> bytes:
    """CSV-Unicode: UTF-16 LE with BOM."""
    return codecs.BOM_UTF16_LE + csv_text(rows).encode("utf-16-le")


def utf8_csv(rows: list[list[str]], *, bom: bool = True) -> bytes:
    return (codecs.BOM_UTF8 if bom else b"") + csv_text(rows).encode("utf-8")


def manifest_xml(entities: list[EntityFile], *, namespace: bool = True, group: str = "P") -> str:
    xmlns = f' xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="{NS}"' if namespace else ""
    parts = [f"<DataManagementPackageManifest{xmlns}><DefinitionGroupName>{group}</DefinitionGroupName>"]
    parts.append("<Description>test</Description><PackageEntityList>")
    for entity in entities:
        maps = "".join(
            f"<EntityMap><EntityField>{f}</EntityField><XMLField>{f}</XMLField></EntityMap>"
            for f in entity.fields
        )
        parts.append(
            "<DataManagementPackageEntityData><DefaultRefreshType>FullPush</DefaultRefreshType>"
            f"<EntityMapList>{maps}</EntityMapList><EntityName>{entity.label}</EntityName>"
            f"<InputFilePath>{entity.path}</InputFilePath><SourceFormat>{entity.source_format}</SourceFormat>"
            "<TargetEntity>TestEntity</TargetEntity></DataManagementPackageEntityData>"
        )
    parts.append("</PackageEntityList></DataManagementPackageManifest>")
    return "".join(parts)


def header_xml(*, namespace: bool = True) -> str:
    xmlns = f' xmlns="{NS}"' if namespace else ""
    return (
        f"<DataManagementPackageHeader{xmlns}><Description>P</Description>"
        "<ManifestType>x</ManifestType><PackageType>DefinitionGroup</PackageType>"
        "<PackageVersion>2</PackageVersion></DataManagementPackageHeader>"
    )


def encode_xml(text: str, encoding: str) -> bytes:
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    if encoding == "utf-8-bom":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if encoding == "utf-8-decl":
        return ('<?xml version="1.0" encoding="utf-8"?>\r\n' + text).encode("utf-8")
    return text.encode("utf-8")


def make_package(
    path: Path,
    entities: list[EntityFile],
    *,
    xml_encoding: str = "utf-16",
    skip_files: set[str] = frozenset(),  # type: ignore[assignment]
    extra: dict[str, bytes] | None = None,
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Manifest.xml", encode_xml(manifest_xml(entities), xml_encoding))
        archive.writestr("PackageHeader.xml", encode_xml(header_xml(), xml_encoding))
        for entity in entities:
            if entity.path not in skip_files:
                archive.writestr(entity.path, entity.data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def xlsx(rows: list[list[str | None]], *, sheet: str) -> bytes:
    """An xlsx workbook (written by openpyxl) with ``rows`` on sheet ``sheet``."""
    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- damaging a package on disk, as a corrupt or cut-short download would ------------------------


def entry_data_span(path: Path, name: str) -> tuple[int, int]:
    """Where entry ``name``'s compressed data lies in the zip file: ``(start, end)`` byte offsets."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with path.open("rb") as file:
        file.seek(info.header_offset)
        local = file.read(30)
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    return start, start + info.compress_size


def flip_byte(path: Path, offset: int) -> None:
    """Invert the bits of the byte at ``offset``."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_entry(path: Path, name: str, *, at: float) -> None:
    """Flip one byte of entry ``name``'s compressed data, at fraction ``at`` (0..1) of it."""
    start, end = entry_data_span(path, name)
    flip_byte(path, start + min(int((end - start) * at), end - start - 1))


def wrong_crc(path: Path, name: str) -> None:
    """Change the CRC-32 the zip's directory records for ``name``; the data itself stays intact."""
    with zipfile.ZipFile(path) as archive:
        crc = archive.getinfo(name).CRC
    data = path.read_bytes()
    record = data.index(b"PK\x01\x02")  # the first central directory record
    while True:
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[record + 28 : record + 34])
        if data[record + 46 : record + 46 + name_length] == name.encode():
            break
        record += 46 + name_length + extra_length + comment_length
    assert struct.unpack("<I", data[record + 16 : record + 20])[0] == crc
    path.write_bytes(data[: record + 16] + struct.pack("<I", crc ^ 1) + data[record + 20 :])


def truncate(path: Path, *, keep: float) -> None:
    """Cut the file short, keeping fraction ``keep`` of its bytes (a download that stopped)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
