"""Jobs and schedules: the main job, and per entity a refresh and (delta only) a reconcile schedule.

Each job selects the asset keys the translator gives its entities, never keys made here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dagster as dg

from d365_assets.catalog import Catalog, EntityConfig
from d365_assets.defs.translator import DagsterD365Translator

__all__ = ["HELD_LOAD_TAG", "MAIN_JOB", "MODE_TAG", "RECONCILE", "build_jobs", "build_schedules"]

MAIN_JOB = "d365_refresh_all"
MODE_TAG = "d365/mode"
HELD_LOAD_TAG = "d365/held_load"
"""Run tag for a load the guards held back: ``accept`` applies it once, ``discard`` sets it aside."""
RECONCILE = "reconcile"
"""Value of the ``d365/mode`` run tag that makes delta entities do a full export and delete what is gone."""


def build_jobs(
    catalog: Catalog, *, translator: DagsterD365Translator | None = None
) -> list[dg.UnresolvedAssetJobDefinition]:
    """The main job (every entity of the catalog's companies), plus one per entity for its schedules."""
    translator = translator or DagsterD365Translator()
    keys = {entity.name: translator.get_asset_spec(entity).key for entity in catalog.entities}
    main = [e for e in catalog.entities if not e.company_specific or e.companies == catalog.companies]
    jobs = [
        dg.define_asset_job(
            MAIN_JOB,
            selection=dg.AssetSelection.assets(*[keys[e.name] for e in main]),
            description="Export and load every catalog entity; run once per company partition.",
        )
    ]
    for entity in catalog.entities:
        jobs.append(_entity_job(entity, keys[entity.name], f"d365_refresh_{entity.table_name}"))
        if entity.reconcile_cron:
            name = f"d365_reconcile_{entity.table_name}"
            jobs.append(_entity_job(entity, keys[entity.name], name, tags={MODE_TAG: RECONCILE}))
    return jobs


def _entity_job(
    entity: EntityConfig, key: dg.AssetKey, name: str, *, tags: dict[str, str] | None = None
) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(key),
        tags=tags,
        description=f"{'Reconcile' if tags else 'Refresh'} {entity.name}.",
    )


def build_schedules(
    catalog: Catalog, *, translator: DagsterD365Translator | None = None, running: bool = True
) -> list[dg.ScheduleDefinition]:
    """Per entity: its refresh cron, and for delta entities its reconcile cron; a tick asks every company.

    An entity read from a recurring job has no refresh schedule: its job's sensor starts its runs.

    ``running``: whether the schedules start running, or stopped until switched on in the UI. A tick
    asks one run per partition of the entity's asset (as the translator partitions it).
    """
    translator = translator or DagsterD365Translator()
    status = dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    schedules = []
    for entity in catalog.entities:
        partitions = translator.get_asset_spec(entity).partitions_def
        companies = partitions.get_partition_keys() if partitions is not None else [None]
        refresh_job = f"d365_refresh_{entity.table_name}"
        if entity.recurring_activity_id is None:  # F&O's recurring job exports it (defs/recurring.py)
            schedules.append(_schedule(refresh_job, entity.refresh_cron, companies, status))
        if entity.reconcile_cron:
            reconcile_job = f"d365_reconcile_{entity.table_name}"
            schedules.append(_schedule(reconcile_job, entity.reconcile_cron, companies, status))
    return schedules


def _schedule(
    job_name: str, cron: str, companies: Sequence[str | None], status: dg.DefaultScheduleStatus
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{job_name}_schedule",
        job_name=job_name,
        cron_schedule=cron,
        default_status=status,
        description=f"{job_name} on '{cron}' (UTC), one run per company.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        stamp = f"{context.scheduled_execution_time:%Y%m%dT%H%M}"
        for company in companies:
            yield dg.RunRequest(run_key=f"{stamp}-{company or 'shared'}", partition_key=company)

    return _tick
