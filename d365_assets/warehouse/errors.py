"""Errors raised by the DuckDB loader.

```
WarehouseError
 ├── WarehouseLockedError   another process holds the DuckDB file or the writer lock
 └── LoadError              the rows cannot be applied (nothing was changed)
```
"""

from __future__ import annotations

__all__ = ["LoadError", "WarehouseError", "WarehouseLockedError"]


class WarehouseError(Exception):
    """Base class of the loader's errors; the table is always left as it was."""


class WarehouseLockedError(WarehouseError):
    """The DuckDB file stayed locked by another process for longer than the lock timeout."""


class LoadError(WarehouseError):
    """The package's rows cannot be applied to the table."""
