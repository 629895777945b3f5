"""An entity's exported columns after upstream schema drift: added and dropped fields.

A real F&O environment gains fields (an ISV or an update extends the entity) and data projects drop
fields from their mapping. :class:`EntityLayout` plays both: catalog columns minus ``dropped``, then
``extra`` columns whose values are derived from the row's natural key, so a row keeps its extra
values from one export to the next, whatever the business activity.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .entities import ColumnsView, EntityDef

__all__ = ["COLUMN_TYPES", "EntityLayout"]

COLUMN_TYPES = ("string", "enum", "noyes", "integer", "decimal", "date", "datetime")
_ENUM_SYMBOLS = ("Alpha", "Beta", "Gamma", "Delta")
_EPOCH = dt.datetime(2020, 1, 1)


@dataclass(frozen=True)
class EntityLayout(ColumnsView):
    """The columns an entity's data file holds, and how to turn generated rows into them."""

    entity: EntityDef
    extra: Mapping[str, str] = field(default_factory=dict)
    """Added columns (upper-case name -> type), appended after the catalog columns."""
    dropped: Sequence[str] = ()
    """Catalog columns left out of the file (never key columns)."""

    def __post_init__(self) -> None:
        names = set(self.entity.column_names)
        for name in self.dropped:
            if name not in names:
                raise ValueError(f"{self.entity.name}: cannot drop unknown column {name!r}")
            if name in self.entity.key:
                raise ValueError(f"{self.entity.name}: cannot drop key column {name!r}")
        for name, kind in self.extra.items():
            if name in names or name != name.upper() or not name.isidentifier():
                raise ValueError(f"{self.entity.name}: extra column {name!r} must be a new upper-case name")
            if kind not in COLUMN_TYPES:
                raise ValueError(f"{self.entity.name}: extra column {name!r} has unknown type {kind!r}")

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """``(name, type)`` in file order."""
        kept = tuple(c for c in self.entity.columns if c[0] not in self.dropped)
        return kept + tuple(self.extra.items())

    def apply(self, rows: Iterable[list[object]]) -> Iterator[list[object]]:
        """Raw rows in catalog order -> raw rows in this layout's order."""
        if not self.extra and not self.dropped:
            yield from rows
            return
        names = self.entity.column_names
        keep = [i for i, name in enumerate(names) if name not in self.dropped]
        key = [names.index(k) for k in self.entity.key]
        extra = list(self.extra.items())
        for row in rows:
            identity = "|".join(str(row[i]) for i in key)
            yield [row[i] for i in keep] + [_extra_value(name, kind, identity) for name, kind in extra]


def _extra_value(column: str, kind: str, identity: str) -> object:
    """A deterministic raw value of an added column for the row with natural key ``identity``."""
    h = zlib.crc32(f"{column}|{identity}".encode())
    if kind == "string":
        return "" if h % 7 == 0 else f"{column[:4]}-{h % 100_000:05d}"
    if kind == "enum":
        return _ENUM_SYMBOLS[h % len(_ENUM_SYMBOLS)]
    if kind == "noyes":
        return bool(h & 1)
    if kind == "integer":
        return h % 1_000_000
    if kind == "decimal":
        return (h % 10_000_000) * 1_000 - 2_000_000_000
    if kind == "date":
        return None if h % 11 == 0 else (_EPOCH + dt.timedelta(days=h % 2_000)).date()
    return None if h % 11 == 0 else _EPOCH + dt.timedelta(seconds=h % (2_000 * 86_400))
