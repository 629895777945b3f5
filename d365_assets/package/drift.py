"""Matching a file's columns to an entity schema, and describing schema drift between them.

F&O adds fields to entities over time and a data project's mapping may drop some. With
``extra_columns="keep"`` a file column the schema does not declare is read as text and appended
after the schema's columns, and a schema column the file lacks comes back all NULL (of its type),
so a loader adds new columns and keeps dropped ones, NULL from then on. With ``"error"`` (the
default) either difference raises :class:`PackageError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from d365_assets.schema import Column, ColumnType, EntitySchema

from .errors import PackageError

__all__ = ["ColumnDrift", "ColumnPlan", "ExtraColumns", "plan_columns"]

ExtraColumns = Literal["error", "keep"]


@dataclass(frozen=True)
class ColumnDrift:
    """How a file's columns differ from the schema it is read with."""

    added: tuple[str, ...] = ()
    """File columns the schema does not declare, in file order (read as text)."""
    missing: tuple[str, ...] = ()
    """Schema columns the file lacks, in schema order (read as all NULL)."""

    def __bool__(self) -> bool:
        return bool(self.added or self.missing)


@dataclass(frozen=True)
class ColumnPlan:
    """Which file columns are read, under which names and types, and what comes back."""

    rename: dict[str, str]
    """File column -> output column, for every column read from the file."""
    read: EntitySchema
    """The types of the columns read from the file (output names, file order irrelevant)."""
    effective: EntitySchema
    """The columns of the frames returned: the schema's, then the added ones as ``string``."""
    drift: ColumnDrift


def plan_columns(
    header: list[str], schema: EntitySchema, *, where: str, extra_columns: ExtraColumns = "error"
) -> ColumnPlan:
    """Match ``header`` to ``schema`` (case-insensitive, any order); raises on drift unless kept."""
    if extra_columns not in ("error", "keep"):
        raise ValueError(f"extra_columns must be 'error' or 'keep', not {extra_columns!r}")
    seen = _named_once(header, where=where)
    missing = tuple(c.name for c in schema if c.name.upper() not in seen)
    added = tuple(name for name in header if schema.get(name) is None)
    if extra_columns == "error":
        _refuse(missing, added, header, where=where)
    present = [c for c in schema if c.name.upper() in seen]
    extra = [Column(name, ColumnType.STRING) for name in added]
    rename = {seen[c.name.upper()]: c.name for c in present} | {c.name: c.name for c in extra}
    return ColumnPlan(
        rename=rename,
        read=EntitySchema(tuple(present + extra)),
        effective=EntitySchema(tuple(schema.columns) + tuple(extra)),
        drift=ColumnDrift(added=added, missing=missing),
    )


def _named_once(header: list[str], *, where: str) -> dict[str, str]:
    """Upper-cased name -> name; raises for a column without a name or a name used twice."""
    fix = "export the entity again, and check the data project's field mapping in F&O"
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            trailing = " (the header row ends with a delimiter)" if position == len(header) > 1 else ""
            raise PackageError(f"{where}: header column {position} has no name{trailing}; {fix}")
        first = seen.setdefault(name.upper(), position)
        if first != position:
            names = f"are both named {name!r}"
            if header[first - 1] != name:
                names = f"are named {header[first - 1]!r} and {name!r} (names match case-insensitively)"
            raise PackageError(f"{where}: header columns {first} and {position} {names}; {fix}")
    return {name.upper(): name for name in header}


def _refuse(missing: tuple[str, ...], added: tuple[str, ...], header: list[str], *, where: str) -> None:
    if missing:
        raise PackageError(
            f"{where}: the file lacks column(s) {', '.join(missing)} declared in the catalog "
            f"(file columns: {', '.join(header)}); add them to the data project's field mapping in F&O, "
            "or remove them from the catalog (or read with extra_columns='keep' to get them as NULL)"
        )
    if added:
        raise PackageError(
            f"{where}: the file has column(s) {', '.join(added)} the catalog does not declare; "
            "add them (with their types) to the entity's columns in the catalog, or remove them from "
            "the data project's field mapping in F&O (or read with extra_columns='keep' to get them "
            "as text)"
        )
