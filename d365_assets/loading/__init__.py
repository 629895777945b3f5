"""The load contract every destination shares: request, result, guard, errors, and the destination itself.

Below both destinations (``warehouse/``, DuckDB, and ``lake/``, Delta Lake), so each imports it
without importing the other. Modules: ``request`` (:class:`LoadRequest`, :class:`LoadResult`,
:class:`RowCounts`), ``guard`` (:class:`LoadGuard`, the removal rule, the refusals' wording),
``errors``, ``destination`` (the :class:`Destination` protocol).
"""

from d365_assets.loading.destination import Destination
from d365_assets.loading.errors import DestinationError, KeyViolationError, LoadError, RemovalHeldError
from d365_assets.loading.guard import DEFAULT_MAX_REMOVED_SHARE, LoadGuard
from d365_assets.loading.request import LoadRequest, LoadResult, RowCounts, check_request

__all__ = [
    "DEFAULT_MAX_REMOVED_SHARE",
    "Destination",
    "DestinationError",
    "KeyViolationError",
    "LoadError",
    "LoadGuard",
    "LoadRequest",
    "LoadResult",
    "RemovalHeldError",
    "RowCounts",
    "check_request",
]
