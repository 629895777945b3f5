"""DuckDB warehouse: typed entity frames in, one transaction per load, guarded before it commits.

``Warehouse(database).load(LoadRequest(...))`` applies one exported package to its table and returns
a :class:`LoadResult`; every error it raises is a :class:`WarehouseError`.

Modules: ``loader`` (the :class:`Warehouse`), ``connection`` (opening the database, waiting for
other processes), ``table`` (replace, upsert and describe one table), ``stream`` (the frames as one
Arrow stream), ``ledger`` (executions applied), ``guards`` (keys whole, no mass removal),
``request`` (what a load is asked and what it did), ``errors``, ``sql`` (shared SQL pieces).
"""

from d365_assets.warehouse.connection import is_local_file
from d365_assets.warehouse.errors import (
    KeyViolationError,
    LoadError,
    RemovalHeldError,
    WarehouseError,
    WarehouseFileError,
    WarehouseLockedError,
)
from d365_assets.warehouse.guards import DEFAULT_MAX_REMOVED_SHARE, LoadGuard
from d365_assets.warehouse.loader import Warehouse
from d365_assets.warehouse.request import LoadRequest, LoadResult

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
