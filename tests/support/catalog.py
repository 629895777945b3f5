"""The shipped entity catalog for tests, and copies of it with entities changed or left out.

``CATALOG`` is the shipped catalog, validated; :func:`shipped_document` is its YAML as plain data, to
change before :func:`write_document` (or in one step: :func:`catalog_with`, :func:`catalog_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from d365_assets.catalog import SHIPPED_CATALOG, Catalog, EntityConfig, load_catalog

__all__ = [
    "CATALOG",
    "catalog_entity",
    "catalog_of",
    "catalog_with",
    "document_entity",
    "shipped_document",
    "shipped_entry",
    "write_document",
]

CATALOG = load_catalog()
"""The shipped catalog."""


def catalog_entity(name: str) -> EntityConfig:
    """An entity of the shipped catalog by collection name (its label, data project, schema, key ...)."""
    return CATALOG.entity(name)


def shipped_document() -> dict[str, Any]:
    """The shipped catalog's YAML as plain data (a fresh copy on every call)."""
    return yaml.safe_load(SHIPPED_CATALOG.read_text(encoding="utf-8"))


def shipped_entry(name: str) -> dict[str, Any]:
    """The shipped catalog's entry of an entity as plain data (``label``, ``columns`` name -> kind, ...)."""
    return document_entity(shipped_document(), name)


def document_entity(document: dict[str, Any], name: str) -> dict[str, Any]:
    """The entry of the entity called ``name`` in a catalog document."""
    return next(e for e in document["entities"] if e["name"] == name)


def write_document(path: Path, document: dict[str, Any]) -> Path:
    """Write a catalog document (keys in their order) to ``path``; returns ``path``."""
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def catalog_with(folder: Path, entity: str, *, without: Iterable[str] = (), **changes: object) -> Path:
    """``folder/catalog.yaml``: the shipped catalog with keys of ``entity`` changed or left out.

    ``catalog_with(tmp_path, "CustomersV3", natural_key=["CUSTOMERGROUPID"], without=["columns"])``
    """
    document = shipped_document()
    entry = document_entity(document, entity)
    for key in without:
        del entry[key]
    entry.update(changes)
    return write_document(folder / "catalog.yaml", document)


def catalog_of(
    path: Path, entities: Iterable[str], *, change: Callable[[dict[str, Any]], None] | None = None
) -> Catalog:
    """The shipped catalog with only ``entities`` (each entry passed to ``change``), written to ``path``."""
    names = set(entities)
    document = shipped_document()
    document["entities"] = [e for e in document["entities"] if e["name"] in names]
    for entry in document["entities"]:
        if change is not None:
            change(entry)
    return load_catalog(write_document(path, document))
