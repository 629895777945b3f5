"""Delta Lake destination: each entity a Delta table on Azure storage or a folder, read while it loads.

``DeltaLake(LakeConfig(uri, ...)).load(LoadRequest(...))`` applies one exported package to its
table in one Delta commit and returns a :class:`~d365_assets.loading.LoadResult`, as the DuckDB
:class:`~d365_assets.warehouse.Warehouse` does; readers keep their snapshot while it loads.

Modules: ``destination`` (the :class:`DeltaLake`), ``table`` (one table: history as the ledger,
predicate overwrite, merge), ``guarded`` (a full load's stream, guarded at its end before the
commit), ``arrow`` (the types), ``config`` (URI, credentials, redaction), ``maintenance`` (compact,
vacuum), ``errors``.
"""

from d365_assets.lake.config import LakeConfig, redact
from d365_assets.lake.destination import DEFAULT_COMMIT_ATTEMPTS, DeltaLake
from d365_assets.lake.errors import LakeConfigError, LakeConflictError, LakeError, LakeStorageError
from d365_assets.lake.maintenance import DEFAULT_RETENTION_HOURS, MaintenanceResult, maintain_table
from d365_assets.lake.table import EXECUTION_KEY

__all__ = [
    "DEFAULT_COMMIT_ATTEMPTS",
    "DEFAULT_RETENTION_HOURS",
    "EXECUTION_KEY",
    "DeltaLake",
    "LakeConfig",
    "LakeConfigError",
    "LakeConflictError",
    "LakeError",
    "LakeStorageError",
    "MaintenanceResult",
    "maintain_table",
    "redact",
]
