"""The asset factory: one asset per catalog entity."""

from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg

from d365_assets.catalog import Catalog, EntityConfig
from d365_assets.defs.automation import MODE_TAG, RECONCILE
from d365_assets.defs.checks import entity_check_specs, evaluate_checks
from d365_assets.defs.resources import D365Resource, WarehouseResource
from d365_assets.defs.translator import DagsterD365Translator
from d365_assets.errors import D365AssetsError
from d365_assets.fo import ExportFailedError
from d365_assets.package import EmptyEntityFileError
from d365_assets.refresh import RefreshOutcome, refresh_entity
from d365_assets.schema import RefreshMode
from d365_assets.spool import SpoolError
from d365_assets.warehouse import RemovalHeldError

__all__ = ["EXPORT_POOL", "HELD_LOAD_TAG", "build_d365_assets", "build_entity_asset"]

EXPORT_POOL = "d365_export"
"""Concurrency pool of the entity steps: bounds how many exports run against F&O at once."""
HELD_LOAD_TAG = "d365/held_load"
"""Run tag for a load the guards held back: ``accept`` applies it once, ``discard`` sets it aside."""
_HELD_LOAD_CHOICES = ("accept", "discard")


def build_d365_assets(
    catalog: Catalog, *, translator: DagsterD365Translator | None = None
) -> list[dg.AssetsDefinition]:
    """One asset per entity of ``catalog``."""
    translator = translator or DagsterD365Translator()
    return [build_entity_asset(entity, translator=translator) for entity in catalog.entities]


def build_entity_asset(entity: EntityConfig, *, translator: DagsterD365Translator) -> dg.AssetsDefinition:
    """The asset that exports ``entity`` from F&O and loads it into DuckDB (per company if partitioned)."""
    spec = translator.get_asset_spec(entity)

    @dg.multi_asset(
        name=f"d365_{entity.table_name}",
        specs=[spec],
        check_specs=entity_check_specs(spec.key, entity),
        partitions_def=spec.partitions_def,
        pool=EXPORT_POOL,
    )
    def _refresh(
        context: dg.AssetExecutionContext, d365: D365Resource, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        company = context.partition_key if entity.company_specific else None
        mode = RefreshMode.FULL if context.run.tags.get(MODE_TAG) == RECONCILE else entity.refresh
        held = _held_load_choice(context.run.tags)
        try:
            with d365.get_client() as client:
                outcome = refresh_entity(
                    entity=entity,
                    company=company,
                    client=client,
                    warehouse=warehouse.get_warehouse(),
                    spool=warehouse.get_spool(environment=d365.environment_identity),
                    mode=mode,
                    guard=warehouse.get_guard(accept_removal=held == "accept"),
                    discard_held=held == "discard",
                )
        except ExportFailedError as exc:
            raise dg.Failure(
                description=str(exc),
                metadata={
                    "d365/execution_id": exc.execution_id,
                    "d365/status": str(exc.status),
                    "d365/errors": dg.MetadataValue.json(list(exc.errors)),
                },
            ) from exc
        except RemovalHeldError as exc:
            raise dg.Failure(
                description=f"{type(exc).__name__}: {exc} {_HOW_TO_RELEASE}",
                metadata={"d365/rows_before": exc.before, "d365/rows_removed": exc.removed},
            ) from exc
        except D365AssetsError as exc:
            hint = f" {_HOW_TO_DISCARD}" if isinstance(exc, SpoolError) else ""
            hint = f" {_HOW_TO_RELEASE}" if isinstance(exc, EmptyEntityFileError) else hint
            raise dg.Failure(description=f"{type(exc).__name__}: {exc}{hint}") from exc
        for warning in outcome.package.warnings:
            context.log.warning(f"{entity.name} {company or ''}: F&O reported: {warning}")
        for warning in outcome.warnings:
            context.log.warning(f"{entity.name} {company or ''}: {warning}")
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata=materialization_metadata(outcome, database=warehouse.database),
            check_results=evaluate_checks(outcome),
        )

    return _refresh


_HOW_TO_RELEASE = (
    f"To apply it once, launch this asset (and partition) again with the run tag {HELD_LOAD_TAG}=accept; "
    f"to drop it and export again, use {HELD_LOAD_TAG}=discard (the export is set aside, not deleted)."
)
_HOW_TO_DISCARD = (
    f"To drop that export and export again, launch this asset (and partition) with the run tag "
    f"{HELD_LOAD_TAG}=discard."
)


def _held_load_choice(tags: Mapping[str, str]) -> str | None:
    """The run's ``d365/held_load`` tag (``accept``, ``discard``) or None; any other value fails the run."""
    value = tags.get(HELD_LOAD_TAG)
    if value is None:
        return None
    if value not in _HELD_LOAD_CHOICES:
        raise dg.Failure(
            f"run tag {HELD_LOAD_TAG}={value!r} is not understood: use {HELD_LOAD_TAG}=accept to apply a "
            f"held-back load once, or {HELD_LOAD_TAG}=discard to set it aside and export again"
        )
    return value


def materialization_metadata(outcome: RefreshOutcome, *, database: str) -> dict[str, object]:
    """Standard Dagster table metadata plus what F&O and the loader reported."""
    load = outcome.load
    catalog_name = Path(database).stem if not database.startswith("md:") else database.removeprefix("md:")
    metadata: dict[str, object] = {
        "dagster/row_count": load.table_rows,
        "dagster/table_name": f"{catalog_name}.{load.table}",
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in load.columns]),
        "d365/execution_id": outcome.package.execution_id,
        "d365/execution_status": str(outcome.package.status),
        "d365/mode": outcome.mode.value,
        "d365/applied": load.applied,
        "d365/package_rows": outcome.package_rows,
        "d365/rows_inserted": load.rows_inserted,
        "d365/rows_updated": load.rows_updated,
        "d365/rows_deleted": load.rows_deleted,
        "d365/package_bytes": outcome.package.size_bytes,
        **{f"d365/seconds_{phase}": round(value, 3) for phase, value in outcome.seconds.items()},
    }
    if outcome.company is not None:
        metadata["dagster/partition_row_count"] = load.company_rows
    if outcome.summary_url:
        metadata["d365/execution_summary"] = dg.MetadataValue.url(outcome.summary_url)
    if outcome.replayed:
        metadata["d365/replayed_executions"] = ", ".join(r.execution_id for r in outcome.replayed)
    if load.added_columns:
        metadata["d365/table_columns_added"] = ", ".join(load.added_columns)
    if outcome.drift.added:
        metadata["d365/upstream_new_columns"] = ", ".join(outcome.drift.added)
    if outcome.drift.missing:
        metadata["d365/upstream_missing_columns"] = ", ".join(outcome.drift.missing)
    if outcome.package.warnings:
        metadata["d365/warnings"] = dg.MetadataValue.json(list(outcome.package.warnings))
    if outcome.warnings:
        metadata["d365/refresh_warnings"] = dg.MetadataValue.json(list(outcome.warnings))
    if outcome.reconcile_reason:
        metadata["d365/next_refresh_full"] = outcome.reconcile_reason
    return metadata
