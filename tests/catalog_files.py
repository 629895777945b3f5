"""Catalog files for the catalog's tests: the shipped catalog changed as a document or as text."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from d365_assets.catalog import SHIPPED_CATALOG, CatalogError, load_catalog


def refused(path: Path) -> str:
    """The message of the CatalogError that loading ``path`` raises; it names the file and a fix."""
    with pytest.raises(CatalogError) as raised:
        load_catalog(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "Fix: " in message
    return message


def shipped_text() -> str:
    return SHIPPED_CATALOG.read_text(encoding="utf-8")


def entity(document: dict, name: str) -> dict:
    """The entity called ``name`` in a catalog document."""
    return next(e for e in document["entities"] if e["name"] == name)


def write_changed(tmp_path: Path, change: Callable[[dict], Any]) -> Path:
    """The shipped catalog with ``change`` applied to its document, written to ``tmp_path``."""
    document = yaml.safe_load(shipped_text())
    change(document)
    return write_text(tmp_path, yaml.safe_dump(document))


def write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, line: str) -> int:
    """The 1-based number of the first line of ``text`` equal to ``line``."""
    return text.splitlines().index(line) + 1


def alias_bomb(*, levels: int = 9, width: int = 10) -> list[str]:
    """YAML lines of a mapping ``laughs`` whose last key stands for ``width ** levels`` strings."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = ["laughs:", f"  a: &a [{', '.join(['lol'] * width)}]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"  {name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return lines
