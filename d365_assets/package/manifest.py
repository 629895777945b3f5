"""Parsing ``Manifest.xml`` and ``PackageHeader.xml`` of a DMF data package.

F&O writes both in UTF-16 LE with a BOM and no XML declaration; hand-built packages are often
UTF-8. The encoding is taken from the BOM. Elements are matched by local name, so the
``http://schemas.microsoft.com/dynamics/2015/01/DataManagement`` namespace is accepted but not
required, and optional elements (absent from older packages) may be missing.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .errors import PackageError

__all__ = [
    "Manifest",
    "ManifestEntity",
    "PackageHeader",
    "decode_xml",
    "parse_manifest",
    "parse_package_header",
]

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


@dataclass(frozen=True)
class PackageHeader:
    """``PackageHeader.xml``: ``description`` is the data project name."""

    description: str
    package_type: str
    package_version: str


@dataclass(frozen=True)
class ManifestEntity:
    """One ``DataManagementPackageEntityData`` of the manifest."""

    entity_name: str
    """The DMF entity label, e.g. ``Customers V3``."""
    input_file_path: str
    """The entity's file inside the package, e.g. ``Customers V3.csv``."""
    source_format: str
    """The DMF source data format, e.g. ``CSV-Unicode``, ``CSV``, ``EXCEL``, ``XML-Element``."""
    target_entity: str | None
    """The AOT entity name (``CustCustomerV3Entity``); absent in older packages."""
    refresh_type: str | None
    """``DefaultRefreshType`` (``FullPush``, ...); absent in older packages."""
    fields: tuple[str, ...]
    """The mapped file columns (``XMLField`` of each ``EntityMap``), in manifest order."""
    sheet_name: str | None = None
    """``ExcelSheetName`` when set."""


@dataclass(frozen=True)
class Manifest:
    """``Manifest.xml``: the data project definition carried by the package."""

    definition_group: str
    description: str
    entities: tuple[ManifestEntity, ...]


def decode_xml(data: bytes, *, name: str) -> str:
    """Decode XML bytes by their BOM (UTF-16 LE/BE, UTF-8), else UTF-8; drop any declaration."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif len(data) >= 2 and data[0] == 0 and data[1] != 0:
        encoding = "utf-16-be"
    elif len(data) >= 2 and data[0] != 0 and data[1] == 0:
        encoding = "utf-16-le"
    else:
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PackageError(f"{name} is not valid {encoding} text ({exc})") from None
    return _DECLARATION.sub("", text, count=1)


def parse_package_header(data: bytes) -> PackageHeader:
    """Parse the bytes of ``PackageHeader.xml``."""
    root = _parse(data, name="PackageHeader.xml", root="DataManagementPackageHeader")
    return PackageHeader(
        description=_text(root, "Description"),
        package_type=_text(root, "PackageType"),
        package_version=_text(root, "PackageVersion"),
    )


def parse_manifest(data: bytes) -> Manifest:
    """Parse the bytes of ``Manifest.xml``."""
    root = _parse(data, name="Manifest.xml", root="DataManagementPackageManifest")
    entities = []
    entity_list = _child(root, "PackageEntityList")
    for node in _children(entity_list, "DataManagementPackageEntityData") if entity_list is not None else ():
        label = _text(node, "EntityName")
        input_file = _text(node, "InputFilePath")
        if not label or not input_file:
            raise PackageError(
                "Manifest.xml: an entity lacks <EntityName> or <InputFilePath> "
                f"(EntityName={label!r}, InputFilePath={input_file!r})"
            )
        fields: list[str] = []
        maps = _child(node, "EntityMapList")
        for entity_map in _children(maps, "EntityMap") if maps is not None else ():
            field_name = _text(entity_map, "XMLField") or _text(entity_map, "EntityField")
            if field_name:
                fields.append(field_name)
        entities.append(
            ManifestEntity(
                entity_name=label,
                input_file_path=input_file,
                source_format=_text(node, "SourceFormat"),
                target_entity=_text(node, "TargetEntity") or None,
                refresh_type=_text(node, "DefaultRefreshType") or None,
                fields=tuple(fields),
                sheet_name=_text(node, "ExcelSheetName") or None,
            )
        )
    return Manifest(
        definition_group=_text(root, "DefinitionGroupName"),
        description=_text(root, "Description"),
        entities=tuple(entities),
    )


def _parse(data: bytes, *, name: str, root: str) -> Element:
    text = decode_xml(data, name=name)
    try:
        element = fromstring(text.encode("utf-8"), forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise PackageError(f"{name} is not well-formed or safe XML: {exc}") from None
    if _local(element.tag) != root:
        raise PackageError(f"{name}: root element is <{_local(element.tag)}>, expected <{root}>")
    return element


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(parent: Element, name: str) -> Iterator[Element]:
    return (child for child in parent if _local(child.tag) == name)


def _child(parent: Element, name: str) -> Element | None:
    return next(_children(parent, name), None)


def _text(parent: Element, name: str) -> str:
    child = _child(parent, name)
    return (child.text or "").strip() if child is not None else ""
