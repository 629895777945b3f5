"""Build DMF data packages (real zips) for the reader's tests."""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

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
