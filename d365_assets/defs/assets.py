"""The asset factory: one asset per catalog entity."""

from collections.abc import Iterator, Mapping

import dagster as dg

from d365_assets.catalog import Catalog, EntityConfig
from d365_assets.defs.automation import HELD_LOAD_TAG, MODE_TAG, RECONCILE
from d365_assets.defs.checks import entity_check_specs, evaluate_checks
from d365_assets.defs.metadata import D365MetadataSet, materialization_metadata
from d365_assets.defs.recurring import consume_recurring, recurring_failure, recurring_message
from d365_assets.defs.resources import D365Resource, WarehouseResource
from d365_assets.defs.translator import DagsterD365Translator
from d365_assets.errors import D365AssetsError
from d365_assets.fo import ExportFailedError
from d365_assets.loading import RemovalHeldError
from d365_assets.package import EmptyEntityFileError
from d365_assets.refresh import refresh_entity
from d365_assets.schema import RefreshMode
from d365_assets.spool import SpoolError

__all__ = ["EXPORT_POOL", "HELD_LOAD_TAG", "build_d365_assets", "build_entity_asset"]

EXPORT_POOL = "d365_export"
"""Concurrency pool of the entity steps: bounds how many exports run against F&O at once."""
_HELD_LOAD_CHOICES = ("accept", "discard")


def build_d365_assets(
    catalog: Catalog, *, translator: DagsterD365Translator | None = None
) -> list[dg.AssetsDefinition]:
    """One asset per entity of ``catalog``, in its order, each with the spec ``translator`` gives."""
    translator = translator or DagsterD365Translator()
    return [build_entity_asset(entity, translator=translator) for entity in catalog.entities]


def build_entity_asset(entity: EntityConfig, *, translator: DagsterD365Translator) -> dg.AssetsDefinition:
    """The asset that exports ``entity`` from F&O and loads it into its destination (per company if
    partitioned)."""
    spec = translator.get_asset_spec(entity)

    @dg.multi_asset(
        name=f"d365_{entity.table_name}",
        specs=[spec],
        check_specs=entity_check_specs(spec, entity),
        partitions_def=spec.partitions_def,
        pool=EXPORT_POOL,
    )
    def _refresh(
        context: dg.AssetExecutionContext, d365: D365Resource, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        held = _held_load_choice(context.run.tags)
        carried = recurring_message(context.run.tags)
        if carried is not None:  # a run a recurring job's sensor asked for: load its one message
            guard = warehouse.get_guard(accept_removal=held == "accept")
            try:
                yield consume_recurring(
                    context, entity=entity, carried=carried, d365=d365, warehouse=warehouse, guard=guard
                )
            except D365AssetsError as exc:
                raise recurring_failure(exc) from exc
            return
        company = context.partition_key if entity.company_specific else None
        mode = RefreshMode.FULL if context.run.tags.get(MODE_TAG) == RECONCILE else entity.refresh
        try:
            destination = warehouse.get_warehouse()
            with d365.get_client() as client:
                outcome = refresh_entity(
                    entity=entity,
                    company=company,
                    client=client,
                    warehouse=destination,
                    spool=warehouse.get_spool(environment=d365.environment_identity),
                    mode=mode,
                    guard=warehouse.get_guard(accept_removal=held == "accept"),
                    discard_held=held == "discard",
                )
        except D365AssetsError as exc:
            raise _failure(exc) from exc
        for warning in outcome.package.warnings:
            context.log.warning(f"{entity.name} {company or ''}: F&O reported: {warning}")
        for warning in outcome.warnings:
            context.log.warning(f"{entity.name} {company or ''}: {warning}")
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata=materialization_metadata(
                outcome, destination=destination, summary_link=not d365.uses_emulator
            ),
            check_results=evaluate_checks(outcome),
        )

    return _refresh


def _failure(exc: D365AssetsError) -> dg.Failure:
    """The run's failure for one of our errors: its message, what to do, and its metadata."""
    if isinstance(exc, ExportFailedError):
        details = D365MetadataSet(
            execution_id=exc.execution_id,
            status=str(exc.status),
            errors=dg.MetadataValue.json(list(exc.errors)),
        )
        return dg.Failure(description=str(exc), metadata=dict(details))
    if isinstance(exc, RemovalHeldError):
        details = D365MetadataSet(rows_before=exc.before, rows_removed=exc.removed)
        return dg.Failure(
            description=f"{type(exc).__name__}: {exc} {_HOW_TO_RELEASE}", metadata=dict(details)
        )
    hint = f" {_HOW_TO_DISCARD}" if isinstance(exc, SpoolError) else ""
    hint = f" {_HOW_TO_RELEASE}" if isinstance(exc, EmptyEntityFileError) else hint
    return dg.Failure(description=f"{type(exc).__name__}: {exc}{hint}")


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
