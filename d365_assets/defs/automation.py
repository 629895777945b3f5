"""Jobs and schedules: the main job, and per entity a refresh and (delta only) a reconcile schedule."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dagster as dg

from d365_assets.catalog import Catalog, EntityConfig
from d365_assets.defs.translator import ASSET_KEY_PREFIX

__all__ = ["MAIN_JOB", "MODE_TAG", "RECONCILE", "build_jobs", "build_schedules"]

MAIN_JOB = "d365_refresh_all"
MODE_TAG = "d365/mode"
RECONCILE = "reconcile"
"""Value of the ``d365/mode`` run tag that makes delta entities do a full export and delete what is gone."""


def _key(entity: EntityConfig) -> dg.AssetKey:
    return dg.AssetKey([ASSET_KEY_PREFIX, entity.table_name])


def build_jobs(catalog: Catalog) -> list[dg.UnresolvedAssetJobDefinition]:
    """The main job (every entity of the catalog's companies), plus one per entity for its schedules."""
    main = [e for e in catalog.entities if not e.company_specific or e.companies == catalog.companies]
    jobs = [
        dg.define_asset_job(
            MAIN_JOB,
            selection=dg.AssetSelection.assets(*[_key(e) for e in main]),
            description="Export and load every catalog entity; run once per company partition.",
        )
    ]
    for entity in catalog.entities:
        jobs.append(_entity_job(entity, f"d365_refresh_{entity.table_name}"))
        if entity.reconcile_cron:
            jobs.append(
                _entity_job(entity, f"d365_reconcile_{entity.table_name}", tags={MODE_TAG: RECONCILE})
            )
    return jobs


def _entity_job(
    entity: EntityConfig, name: str, *, tags: dict[str, str] | None = None
) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(_key(entity)),
        tags=tags,
        description=f"{'Reconcile' if tags else 'Refresh'} {entity.name}.",
    )


def build_schedules(catalog: Catalog) -> list[dg.ScheduleDefinition]:
    """Per entity: its refresh cron, and for delta entities its reconcile cron; a tick asks every company."""
    schedules = []
    for entity in catalog.entities:
        schedules.append(_schedule(entity, f"d365_refresh_{entity.table_name}", entity.refresh_cron))
        if entity.reconcile_cron:
            schedules.append(_schedule(entity, f"d365_reconcile_{entity.table_name}", entity.reconcile_cron))
    return schedules


def _schedule(entity: EntityConfig, job_name: str, cron: str) -> dg.ScheduleDefinition:
    companies: Sequence[str | None] = entity.companies if entity.company_specific else [None]

    @dg.schedule(
        name=f"{job_name}_schedule",
        job_name=job_name,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{job_name} on '{cron}' (UTC), one run per company.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        stamp = f"{context.scheduled_execution_time:%Y%m%dT%H%M}"
        for company in companies:
            yield dg.RunRequest(run_key=f"{stamp}-{company or 'shared'}", partition_key=company)

    return _tick
