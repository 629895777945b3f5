"""Errors raised by the DuckDB loader.

```
WarehouseError
 ├── WarehouseLockedError   another process holds the DuckDB file or the writer lock
 ├── WarehouseFileError     the database file cannot be opened or written (corrupt, read-only, full)
 └── LoadError              the rows cannot be applied (nothing was changed)
      ├── KeyViolationError   a natural key is NULL or occurs more than once
      └── RemovalHeldError    a full load would remove more of the company's rows than allowed
```
"""

from __future__ import annotations

from d365_assets.errors import D365AssetsError

__all__ = [
    "KeyViolationError",
    "LoadError",
    "RemovalHeldError",
    "WarehouseError",
    "WarehouseFileError",
    "WarehouseLockedError",
]


class WarehouseError(D365AssetsError):
    """Base class of the loader's errors; the table is always left as it was."""


class WarehouseLockedError(WarehouseError):
    """The DuckDB file stayed locked by another process for longer than the lock timeout."""


class WarehouseFileError(WarehouseError):
    """The DuckDB database file cannot be opened or written: corrupt, truncated, not writable, or full."""


class LoadError(WarehouseError):
    """The package's rows cannot be applied to the table."""


class KeyViolationError(LoadError):
    """The rows to load have a NULL natural key or the same natural key more than once."""


class RemovalHeldError(LoadError):
    """A full load would remove more than the allowed share of the company's rows: held back, not applied.

    ``removed`` of ``before`` rows would go. Loading it anyway takes a :class:`LoadGuard` with
    ``accept_removal`` for that one load.
    """

    def __init__(self, text: str, *, removed: int, before: int) -> None:
        super().__init__(text)
        self.removed = removed
        self.before = before
