"""The metadata an entity asset carries: Dagster's table metadata plus one typed ``d365/`` set.

:class:`D365MetadataSet` names every ``d365/...`` key once, with its type, the way the integrations
Dagster ships do (``TableMetadataSet`` for the standard ``dagster/...`` table keys, a namespaced set for
their own). Read it back with ``D365MetadataSet.extract(materialization.metadata)``.

Dagster 1.13 defines both base classes under ``dagster._core.definitions.metadata`` and does not export
them from ``dagster``; the libraries Dagster publishes import them from there too. This module is the
one place that does.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.definitions.metadata.metadata_set import NamespacedMetadataSet, TableMetadataSet

from d365_assets.catalog import EntityConfig
from d365_assets.loading import Destination
from d365_assets.refresh import RefreshOutcome

__all__ = ["D365MetadataSet", "TableMetadataSet", "entity_metadata", "materialization_metadata"]


class D365MetadataSet(NamespacedMetadataSet):
    """The ``d365/...`` metadata of an entity asset (definition) and of its materializations."""

    # The entity, on the asset's definition.
    entity: str | None = None
    label: str | None = None
    data_project: str | None = None
    refresh: str | None = None
    natural_key: str | None = None
    # One materialization: F&O's export and what the loader did with it.
    execution_id: str | None = None
    execution_status: str | None = None
    execution_summary: dg.UrlMetadataValue | None = None
    mode: str | None = None
    applied: bool | None = None
    package_rows: int | None = None
    package_bytes: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    seconds_export_wait: float | None = None
    seconds_download: float | None = None
    seconds_parse_and_load: float | None = None
    replayed_executions: str | None = None
    table_columns_added: str | None = None
    upstream_new_columns: str | None = None
    upstream_missing_columns: str | None = None
    warnings: dg.JsonMetadataValue | None = None
    refresh_warnings: dg.JsonMetadataValue | None = None
    next_refresh_full: str | None = None
    # One message of a recurring export job.
    correlation_id: str | None = None
    message_status: str | None = None
    message_redelivered: bool | None = None
    message_already_loaded: bool | None = None
    message_superseded: bool | None = None
    # A failed materialization.
    status: str | None = None
    errors: dg.JsonMetadataValue | None = None
    rows_before: int | None = None
    rows_removed: int | None = None
    # A materialization into the Delta lake: where the table is, and the version the load committed.
    table_uri: str | None = None
    table_version: int | None = None

    @classmethod
    def namespace(cls) -> str:
        return "d365"


def entity_metadata(entity: EntityConfig) -> dict[str, Any]:
    """What an entity's asset definition shows: the entity, and its declared columns."""
    table = TableMetadataSet(
        column_schema=None
        if entity.schema is None
        else dg.TableSchema(columns=[dg.TableColumn(c.name, c.type.duckdb_type) for c in entity.schema])
    )
    d365 = D365MetadataSet(
        entity=entity.name,
        label=entity.label,
        data_project=entity.data_project,
        refresh=entity.refresh.value,
        natural_key=", ".join(entity.natural_key),
    )
    return {**d365, **table}


def materialization_metadata(
    outcome: RefreshOutcome, *, destination: Destination, summary_link: bool = True
) -> dict[str, Any]:
    """Standard Dagster table metadata plus what F&O and the loader reported.

    ``summary_link``: whether F&O's execution summary page can be opened later (not the embedded
    emulator's, which lives only as long as the run's process).
    """
    load = outcome.load
    table_name = outcome.entity.table_name
    table = TableMetadataSet(
        row_count=load.table_rows,
        partition_row_count=load.company_rows if outcome.company is not None else None,
        table_name=destination.table_name(table_name),
        column_schema=dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in load.columns]),
    )
    seconds = {f"seconds_{phase}": round(value, 3) for phase, value in outcome.seconds.items()}
    d365 = D365MetadataSet(
        execution_id=outcome.package.execution_id,
        execution_status=str(outcome.package.status),
        execution_summary=dg.MetadataValue.url(outcome.summary_url)
        if outcome.summary_url and summary_link
        else None,
        mode=outcome.mode.value,
        applied=load.applied,
        package_rows=outcome.package_rows,
        package_bytes=outcome.package.size_bytes,
        rows_inserted=load.rows_inserted,
        rows_updated=load.rows_updated,
        rows_deleted=load.rows_deleted,
        **seconds,
        replayed_executions=_listed(r.execution_id for r in outcome.replayed),
        table_columns_added=_listed(load.added_columns),
        upstream_new_columns=_listed(outcome.drift.added),
        upstream_missing_columns=_listed(outcome.drift.missing),
        warnings=dg.MetadataValue.json(list(outcome.package.warnings)) if outcome.package.warnings else None,
        refresh_warnings=dg.MetadataValue.json(list(outcome.warnings)) if outcome.warnings else None,
        next_refresh_full=outcome.reconcile_reason,
        table_uri=destination.table_uri(table_name),
        table_version=load.version,
    )
    return {**table, **d365}


def _listed(names: Any) -> str | None:
    """``a, b`` for a non-empty collection of names, None (the key left out) for an empty one."""
    joined = ", ".join(names)
    return joined or None
