"""The root of every error d365-assets raises, and the whole tree.

Catch :class:`D365AssetsError` to catch them all. Every message names the cause and the fix, and no
message carries a secret, a bearer token or a SAS signature.

::

    D365AssetsError                    d365_assets.errors
    ├── D365Error                      d365_assets.fo: talking to F&O
    │   ├── InsecureUrlError             an environment, authority or package URL that is not HTTPS
    │   ├── UnsafeExecutionIdError       an execution id that cannot safely name a file
    │   ├── AuthenticationError          no token from Entra ID / AD FS, or F&O answered 401
    │   ├── ApiError                     an F&O action failed (HTTP status, OData error, unreachable)
    │   │   └── ExecutionNotFoundError     the 400 "execution details were not found" of a young execution
    │   ├── ExportFailedError            the export ended Failed, Canceled or Unknown
    │   ├── ExportTimeoutError           the export (or its package URL) did not finish in time
    │   ├── PackageDownloadError         the package could not be downloaded (or failed its MD5)
    │   ├── ActivityIdError              a recurring job's activity id that is not a GUID
    │   ├── RecurringMessageError        a dequeued message that is ill-formed or points off the environment
    │   └── MetadataError                F&O's $metadata does not describe the entity usably
    ├── PackageError                   d365_assets.package: reading a data package
    │   ├── PackageValueError            a value does not parse as its column's type
    │   ├── PackageIntegrityError        the zip's bytes are damaged: download or export again
    │   └── EntityFileError              the entity file is not whole (no header, no key, another entity's)
    │       └── EmptyEntityFileError       no rows at all (zero bytes, no header, no file): held
    ├── DestinationError               d365_assets.loading: a load's destination (nothing was changed)
    │   ├── LoadError                    the rows cannot be applied (either destination)
    │   │   ├── KeyViolationError          a natural key is NULL or repeats
    │   │   └── RemovalHeldError           a full load would remove too many rows: held until accepted
    │   ├── WarehouseError               d365_assets.warehouse: the DuckDB warehouse
    │   │   ├── WarehouseLockedError       another process holds the DuckDB file or the writer lock
    │   │   └── WarehouseFileError         the database file is corrupt, truncated, unwritable or full
    │   └── LakeError                    d365_assets.lake: the Delta lake
    │       ├── LakeConfigError            the lake URI or credentials cannot be used (http, two credentials)
    │       ├── LakeStorageError           the storage refused or failed a call (key, SAS, network, container)
    │       └── LakeConflictError          other writers' commits kept conflicting; retries ran out
    ├── CatalogError                   d365_assets.catalog: the entity catalog is broken
    ├── CronError                      d365_assets.catalog.cron: a cron expression outside the grammar
    ├── StrictYamlError                d365_assets.catalog.strict_yaml: YAML the strict reader refuses
    ├── SpoolError                     d365_assets.spool: a noted export cannot be used
    ├── AckError                       d365_assets.refresh: a message's rows committed, its ack refused
    ├── SettingsError                  d365_assets.settings: a D365_* variable that is not understood
    └── InstanceSetupError             d365_assets.defs.instance: the Dagster instance cannot be opened
"""

from __future__ import annotations

__all__ = ["D365AssetsError"]


class D365AssetsError(Exception):
    """Base class of every error raised by d365-assets (the emulator, which plays F&O, aside)."""
