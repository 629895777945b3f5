"""Entity column types from F&O's OData ``$metadata`` (EDMX), as :class:`EntitySchema` objects.

::

    schemas = parse_metadata(edmx_bytes)      # {"CustomersV3": EntitySchema(...), ...}

Each entity set (public collection name) maps to its entity type's properties, in declaration
order, with names upper-cased as DMF writes file headers (``CustomerAccount`` -> ``CUSTOMERACCOUNT``).
``dataAreaId`` is left out: DMF files of company-specific entities carry no company column.
Types: ``Edm.String``/``Edm.Guid`` -> string, ``Edm.Decimal`` -> decimal, ``Edm.Int16/32/64`` and
``Edm.Byte`` -> integer, ``Edm.Date`` -> date, ``Edm.DateTimeOffset`` -> datetime, the ``NoYes``
enum (and ``Edm.Boolean``) -> noyes, any other enum type -> enum, anything else -> string (kept
verbatim as text, never guessed). An enum column carries its type's member names (the symbols DMF
writes), so the reader can refuse any other value; none when the type lists no members or is a
flags enum (whose values combine members).
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from d365_assets.schema import Column, ColumnType, EntitySchema

from .errors import D365Error

__all__ = ["EDM_TYPES", "MetadataError", "parse_metadata"]

EDM_TYPES: dict[str, ColumnType] = {
    "Edm.String": ColumnType.STRING,
    "Edm.Guid": ColumnType.STRING,
    "Edm.Decimal": ColumnType.DECIMAL,
    "Edm.Byte": ColumnType.INTEGER,
    "Edm.Int16": ColumnType.INTEGER,
    "Edm.Int32": ColumnType.INTEGER,
    "Edm.Int64": ColumnType.INTEGER,
    "Edm.Date": ColumnType.DATE,
    "Edm.DateTimeOffset": ColumnType.DATETIME,
    "Edm.Boolean": ColumnType.NOYES,
}
"""OData primitive type -> column type; enum types are resolved from the document."""
_NOYES = "NoYes"
_COMPANY = "DATAAREAID"


class MetadataError(D365Error):
    """The ``$metadata`` document is not readable EDMX, or lacks the entity asked for."""


def parse_metadata(data: bytes) -> dict[str, EntitySchema]:
    """``{entity set name: EntitySchema}`` of an EDMX document (``GET /data/$metadata``)."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise MetadataError(f"$metadata is not well-formed or safe XML: {exc}") from None
    schemas = list(_all(root, "Schema"))
    if _local(root.tag) != "Edmx" or not schemas:
        raise MetadataError(f"$metadata is not an EDMX document (root <{_local(root.tag)}>, no <Schema>)")
    enums: dict[str, tuple[str, ...] | None] = {}
    types: dict[str, Element] = {}
    for schema in schemas:
        names = _qualifiers(schema)
        for node in schema:
            qualified = [f"{prefix}.{node.get('Name')}" for prefix in names]
            if _local(node.tag) == "EnumType":
                enums.update(dict.fromkeys(qualified, _members(node)))
            elif _local(node.tag) == "EntityType":
                types.update(dict.fromkeys(qualified, node))
    result: dict[str, EntitySchema] = {}
    for entity_set in _all(root, "EntitySet"):
        entity_type = types.get(entity_set.get("EntityType", ""))
        if entity_type is not None:
            result[entity_set.get("Name", "")] = _schema(entity_type, types, enums)
    return result


def _schema(
    entity_type: Element, types: dict[str, Element], enums: dict[str, tuple[str, ...] | None]
) -> EntitySchema:
    columns: list[Column] = []
    for prop in _properties(entity_type, types):
        name = prop.get("Name", "").upper()
        if name and name != _COMPANY and all(c.name != name for c in columns):
            kind = _column_type(prop.get("Type", ""), enums)
            members = enums.get(prop.get("Type", "")) if kind is ColumnType.ENUM else None
            columns.append(Column(name, kind, members))
    return EntitySchema(tuple(columns))


def _members(enum_type: Element) -> tuple[str, ...] | None:
    """An enum type's member names; None when it lists none, or its values combine them (flags)."""
    if enum_type.get("IsFlags", "false").strip().lower() == "true":
        return None
    return tuple(m.get("Name", "") for m in enum_type if _local(m.tag) == "Member") or None


def _properties(entity_type: Element, types: dict[str, Element]) -> Iterator[Element]:
    base = types.get(entity_type.get("BaseType", ""))
    if base is not None and base is not entity_type:
        yield from _properties(base, types)
    yield from (node for node in entity_type if _local(node.tag) == "Property")


def _column_type(edm_type: str, enums: dict[str, tuple[str, ...] | None]) -> ColumnType:
    if edm_type in EDM_TYPES:
        return EDM_TYPES[edm_type]
    if edm_type in enums:
        return ColumnType.NOYES if edm_type.rsplit(".", 1)[-1] == _NOYES else ColumnType.ENUM
    return ColumnType.STRING


def _qualifiers(schema: Element) -> list[str]:
    """The names a schema's types are referenced by: its namespace and its alias."""
    return [q for q in (schema.get("Namespace"), schema.get("Alias")) if q]


def _all(root: Element, name: str) -> Iterator[Element]:
    return (node for node in root.iter() if _local(node.tag) == name)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
