"""The shared vocabulary of every layer: refresh modes, and explicit column types for F&O data entities.

Types are never inferred from data: F&O codes such as ``011000`` look numeric but are text,
amounts are ``numeric(32,6)`` and must stay exact, and ``1900-01-01`` means "no date".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "COMPANY_COLUMN",
    "LOADER_COLUMNS",
    "RESERVED_COLUMNS",
    "Column",
    "ColumnType",
    "EntitySchema",
    "Locale",
    "RefreshMode",
]

COMPANY_COLUMN = "DATAAREAID"
"""The column the loader adds to company-specific tables: the export's legal entity."""
LOADER_COLUMNS = ("_execution_id", "_loaded_at")
"""The bookkeeping columns the loader adds to every table: the execution and time of each row's load."""
RESERVED_COLUMNS = frozenset(name.upper() for name in (COMPANY_COLUMN, *LOADER_COLUMNS))
"""Names (upper case: compare ``name.upper()``) of the columns the warehouse loader adds to entity
tables. No entity column may use them."""


class RefreshMode(StrEnum):
    """How an entity is exported and loaded."""

    FULL = "full"
    """Every export holds all rows; the company's rows are replaced atomically."""
    DELTA = "delta"
    """Change-tracked exports hold inserted and updated rows; they are upserted on the natural key."""


class ColumnType(StrEnum):
    """Logical type of an entity column, as written in the catalog."""

    STRING = "string"
    """Text and codes (account numbers, item numbers): kept verbatim, leading zeros included."""
    ENUM = "enum"
    """An F&O enum written as its symbol (``Open``, ``Invoiced``): kept as text."""
    NOYES = "noyes"
    """The ``NoYes`` enum (``No``/``Yes``): stored as BOOLEAN."""
    INTEGER = "integer"
    """Whole numbers (RecId, line numbers): BIGINT."""
    DECIMAL = "decimal"
    """Amounts and quantities: exact DECIMAL(32,6), as F&O stores them."""
    DATE = "date"
    """A date; ``1900-01-01`` (F&O's empty date) becomes NULL."""
    DATETIME = "datetime"
    """A UTC date and time; ``1900-01-01 00:00:00`` becomes NULL."""

    @property
    def duckdb_type(self) -> str:
        """The DuckDB column type this logical type is stored as."""
        return _DUCKDB_TYPES[self]


_DUCKDB_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.ENUM: "VARCHAR",
    ColumnType.NOYES: "BOOLEAN",
    ColumnType.INTEGER: "BIGINT",
    ColumnType.DECIMAL: "DECIMAL(32,6)",
    ColumnType.DATE: "DATE",
    ColumnType.DATETIME: "TIMESTAMP",
}


class Locale(StrEnum):
    """The language locale of a data project's source data format: how its files write dates and numbers.

    F&O renders values by the format's regional settings, so the reader must be told which form to
    expect; it never guesses between a day-first and a month-first date.
    """

    ISO = "ISO"
    """``2026-03-01``, ``2026-03-01T14:05:00``; ``1234.56``."""
    EN_US = "en-US"
    """``3/1/2026 2:05:00 PM``; ``1234.56`` (``1,234.56`` too)."""
    EN_GB = "en-GB"
    """``01/03/2026 14:05:00``; ``1234.56`` (``1,234.56`` too)."""
    DE_DE = "de-DE"
    """``01.03.2026 14:05:00``; ``1234,56`` (``1.234,56`` too)."""


@dataclass(frozen=True)
class Column:
    """One entity column: its name as it appears in the data file header, and its type."""

    name: str
    type: ColumnType
    members: tuple[str, ...] | None = None
    """An enum column's member symbols, when known (typed from F&O's ``$metadata``); the reader
    refuses any other value. None: not known (a catalog-declared column), any text is taken."""


@dataclass(frozen=True)
class EntitySchema:
    """The ordered, typed columns of one data entity."""

    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for column in self.columns:
            key = column.name.upper()
            if key in seen:
                raise ValueError(f"column {column.name!r} is declared twice; column names must be unique")
            seen.add(key)

    @classmethod
    def of(cls, columns: Iterable[tuple[str, ColumnType | str]]) -> EntitySchema:
        """Build a schema from ``(name, type)`` pairs; types may be given as strings."""
        return cls(tuple(Column(name, ColumnType(kind)) for name, kind in columns))

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> list[str]:
        """Column names in declaration order."""
        return [column.name for column in self.columns]

    def get(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive), or None."""
        wanted = name.upper()
        return next((column for column in self.columns if column.name.upper() == wanted), None)
