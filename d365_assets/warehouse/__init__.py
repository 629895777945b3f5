"""DuckDB warehouse: typed entity frames in, one transaction per load, guarded before it commits."""

from d365_assets.warehouse.errors import KeyViolationError as KeyViolationError
from d365_assets.warehouse.errors import LoadError as LoadError
from d365_assets.warehouse.errors import RemovalHeldError as RemovalHeldError
from d365_assets.warehouse.errors import WarehouseError as WarehouseError
from d365_assets.warehouse.errors import WarehouseFileError as WarehouseFileError
from d365_assets.warehouse.errors import WarehouseLockedError as WarehouseLockedError
from d365_assets.warehouse.guards import DEFAULT_MAX_REMOVED_SHARE as DEFAULT_MAX_REMOVED_SHARE
from d365_assets.warehouse.guards import LoadGuard as LoadGuard
from d365_assets.warehouse.loader import LoadRequest as LoadRequest
from d365_assets.warehouse.loader import LoadResult as LoadResult
from d365_assets.warehouse.loader import Warehouse as Warehouse
from d365_assets.warehouse.loader import is_local_file as is_local_file
