"""DuckDB warehouse: typed entity frames in, one transaction per load, guarded before it commits.

``Warehouse(database).load(LoadRequest(...))`` applies one exported package to its table and returns
a :class:`LoadResult`; every error it raises is a :class:`WarehouseError`.

Modules: ``loader`` (the :class:`Warehouse`), ``connection`` (opening the database, waiting for
other processes), ``table`` (replace, upsert and describe one table), ``stream`` (the frames as one
Arrow stream), ``ledger`` (executions applied), ``guards`` (keys whole, no mass removal),
``errors``, ``sql`` (shared SQL pieces). The load contract (request, result, guard, the refusals) is
:mod:`d365_assets.loading`'s, re-exported here.
"""

from d365_assets.loading import DEFAULT_MAX_REMOVED_SHARE, LoadGuard, LoadRequest, LoadResult
from d365_assets.warehouse.connection import is_local_file
from d365_assets.warehouse.errors import (
    KeyViolationError,
    LoadError,
    RemovalHeldError,
    WarehouseError,
    WarehouseFileError,
    WarehouseLockedError,
)
from d365_assets.warehouse.loader import Warehouse

__all__ = [
    "DEFAULT_MAX_REMOVED_SHARE",
    "KeyViolationError",
    "LoadError",
    "LoadGuard",
    "LoadRequest",
    "LoadResult",
    "RemovalHeldError",
    "Warehouse",
    "WarehouseError",
    "WarehouseFileError",
    "WarehouseLockedError",
    "is_local_file",
]
