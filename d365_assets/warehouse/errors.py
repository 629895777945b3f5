"""Errors raised by the DuckDB loader.

```
DestinationError            d365_assets.loading: any destination
 ├── WarehouseError         the DuckDB warehouse
 │    ├── WarehouseLockedError   another process holds the DuckDB file or the writer lock
 │    └── WarehouseFileError     the database file cannot be opened or written (corrupt, read-only, full)
 └── LoadError              the rows cannot be applied (nothing was changed), from d365_assets.loading
      ├── KeyViolationError   a natural key is NULL or occurs more than once
      └── RemovalHeldError    a full load would remove more of the company's rows than allowed
```
"""

from __future__ import annotations

from d365_assets.loading.errors import DestinationError, KeyViolationError, LoadError, RemovalHeldError

__all__ = [
    "KeyViolationError",
    "LoadError",
    "RemovalHeldError",
    "WarehouseError",
    "WarehouseFileError",
    "WarehouseLockedError",
]


class WarehouseError(DestinationError):
    """Base class of the DuckDB warehouse's own errors; the table is always left as it was."""


class WarehouseLockedError(WarehouseError):
    """The DuckDB file stayed locked by another process for longer than the lock timeout."""


class WarehouseFileError(WarehouseError):
    """The DuckDB database file cannot be opened or written: corrupt, truncated, not writable, or full."""
