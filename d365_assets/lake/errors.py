"""Errors raised by the Delta Lake destination (every one leaves the table at its previous version).

```
DestinationError              d365_assets.loading
 └── LakeError                the Delta lake
      ├── LakeConfigError       the lake URI or its credentials cannot be used as configured
      ├── LakeStorageError      the storage refused or failed a call (credentials, network, no container)
      └── LakeConflictError     other writers kept committing to the same table; retries ran out
```
"""

from __future__ import annotations

from d365_assets.loading import DestinationError

__all__ = ["LakeConfigError", "LakeConflictError", "LakeError", "LakeStorageError"]


class LakeError(DestinationError):
    """Base class of the Delta lake's own errors; the table stays at its previous version."""


class LakeConfigError(LakeError):
    """The lake URI or its credentials are not usable as configured (an http endpoint, two credentials)."""


class LakeStorageError(LakeError):
    """The storage failed or refused a call: wrong credentials, no container, unreachable, a full disk."""


class LakeConflictError(LakeError):
    """Other writers committed conflicting changes to the table every time this load tried to commit."""
