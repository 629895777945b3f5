"""Errors every destination raises when it refuses a load (the DuckDB warehouse and the Delta lake alike).

```
DestinationError
 └── LoadError              the rows cannot be applied (nothing was changed)
      ├── KeyViolationError   a natural key is NULL or occurs more than once
      └── RemovalHeldError    a full load would remove more of the company's rows than allowed
```
"""

from __future__ import annotations

from d365_assets.errors import D365AssetsError

__all__ = ["DestinationError", "KeyViolationError", "LoadError", "RemovalHeldError"]


class DestinationError(D365AssetsError):
    """Base class of the errors of a load's destination; the table is always left as it was."""


class LoadError(DestinationError):
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
