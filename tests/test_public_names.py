"""The public surface, pinned: what each package exports, and one error tree under one root.

A name added to or dropped from a package's ``__all__`` is an API change: this test makes it a
deliberate one (update the set here, and the docs if they mention it).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import d365_assets
from d365_assets import errors
from d365_assets.errors import D365AssetsError

PUBLIC: dict[str, set[str]] = {
    "d365_assets.errors": {"D365AssetsError"},
    "d365_assets.schema": {
        "COMPANY_COLUMN",
        "LOADER_COLUMNS",
        "RESERVED_COLUMNS",
        "Column",
        "ColumnType",
        "EntitySchema",
        "Locale",
        "RefreshMode",
    },
    "d365_assets.fo": {
        "D365Client",
        "HttpOptions",
        "PollOptions",
        "RetryPolicy",
        "ClientSecretCredential",
        "ClientCertificateCredential",
        "Credential",
        "DEFAULT_AUTHORITY_HOST",
        "ExecutionStatus",
        "ExportedPackage",
        "DownloadedFile",
        "D365Error",
        "ApiError",
        "AuthenticationError",
        "ExecutionNotFoundError",
        "ExportFailedError",
        "ExportTimeoutError",
        "InsecureUrlError",
        "MetadataError",
        "PackageDownloadError",
        "UnsafeExecutionIdError",
        # the recurring integrations API
        "ActivityIdError",
        "DequeuedMessage",
        "MessageStatus",
        "RecurringClient",
        "RecurringMessageError",
        "is_guid",
        "normalize_activity_id",
        "is_safe_execution_id",
        "normalize_environment_url",
        "require_https_authority",
    },
    "d365_assets.package": {
        "DECIMAL_DTYPE",
        "DEFAULT_BATCH_ROWS",
        "DEFAULT_FORMATS",
        "ColumnDrift",
        "DataPackage",
        "EmptyEntityFileError",
        "EntityFile",
        "EntityFileError",
        "FileFormat",
        "Manifest",
        "ManifestEntity",
        "PackageError",
        "PackageHeader",
        "PackageIntegrityError",
        "PackageValueError",
        "ZipLimits",
        "check_entity_file",
        "polars_dtype",
    },
    "d365_assets.warehouse": {
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
    },
    "d365_assets.loading": {
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
    },
    "d365_assets.lake": {
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
    },
    "d365_assets.catalog": {"SHIPPED_CATALOG", "Catalog", "CatalogError", "EntityConfig", "load_catalog"},
    "d365_assets.spool": {"PackageSpool", "SpoolError", "SpoolSlot", "SpooledExport"},
    "d365_assets.settings": {"DEFAULT_AUTHORITY_HOST", "SCHEDULE_STATES", "Settings", "SettingsError"},
    "d365_assets.refresh": {
        "RefreshOutcome",
        "refresh_entity",
        # one message of a recurring export job
        "AckError",
        "MessageOutcome",
        "consume_message",
        "ledger_id",
    },
    "d365_assets.defs": {
        "D365CatalogComponent",
        "D365MetadataSet",
        "D365Resource",
        "DagsterD365Translator",
        "WarehouseResource",
        "build_d365_assets",
        "build_entity_asset",
        "build_jobs",
        "build_schedules",
        "resources_from_settings",
    },
    "d365_assets.definitions": {
        "LOCATION_FOLDER",
        "MAX_CONCURRENT_STEPS",
        "build_definitions",
        "defs",
        "load_location",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_each_package_exports_what_is_pinned(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == PUBLIC[module]
    assert len(imported.__all__) == len(set(imported.__all__)), "a name is listed twice"
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"


def product_modules() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(d365_assets.__path__, prefix="d365_assets."):
        if not info.name.startswith("d365_assets.emulator"):
            found.append(info.name)
    return found


def exception_classes() -> dict[str, type[BaseException]]:
    classes: dict[str, type[BaseException]] = {}
    for name in product_modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attribute.startswith("_")
            ):
                classes[f"{name}.{attribute}"] = value
    return classes


def test_every_public_error_is_under_the_one_root() -> None:
    strays = [name for name, cls in exception_classes().items() if not issubclass(cls, D365AssetsError)]
    internal = {"d365_assets.fo.retry.RetryableResponse", "d365_assets.package.delimited.ConversionFailed"}
    assert sorted(set(strays) - internal) == [], "subclass D365AssetsError (or make the class private)"


def test_the_error_tree_lists_every_error() -> None:
    tree = errors.__doc__ or ""
    unlisted = [
        name
        for name, cls in exception_classes().items()
        if issubclass(cls, D365AssetsError) and cls is not D365AssetsError and cls.__name__ not in tree
    ]
    assert not unlisted, f"add these to the tree in d365_assets/errors.py: {unlisted}"
