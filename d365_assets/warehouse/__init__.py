"""DuckDB warehouse: typed entity frames in, one transaction per load."""

from d365_assets.warehouse.errors import LoadError as LoadError
from d365_assets.warehouse.errors import WarehouseError as WarehouseError
from d365_assets.warehouse.errors import WarehouseLockedError as WarehouseLockedError
from d365_assets.warehouse.loader import COMPANY_COLUMN as COMPANY_COLUMN
from d365_assets.warehouse.loader import LoadResult as LoadResult
from d365_assets.warehouse.loader import Warehouse as Warehouse
from d365_assets.warehouse.loader import is_local_file as is_local_file
