"""Delta table maintenance: one job that compacts and vacuums every entity's table, and its schedule.

Present when the destination is the Delta lake (``D365_DESTINATION=delta``). The vacuum's retention
is ``D365_LAKE_RETENTION_HOURS`` (Delta's 7 days by default); the schedule starts running or stopped
by the same rule as the refresh schedules.
"""

import dagster as dg

from d365_assets.catalog import Catalog
from d365_assets.defs.resources import WarehouseResource
from d365_assets.defs.translator import DagsterD365Translator
from d365_assets.lake import DeltaLake, maintain_table

__all__ = ["MAINTENANCE_CRON", "MAINTENANCE_JOB", "build_maintenance"]

MAINTENANCE_JOB = "d365_lake_maintenance"
MAINTENANCE_CRON = "0 3 * * 0"
"""Sundays at 03:00 UTC, when refreshes are rare."""


def build_maintenance(
    catalog: Catalog, *, translator: DagsterD365Translator, running: bool
) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """The maintenance job over ``catalog``'s tables (observed under ``translator``'s asset keys), and
    its weekly schedule."""
    keys = {entity.table_name: translator.get_asset_spec(entity).key for entity in catalog.entities}

    @dg.op(name="compact_and_vacuum", description="Compact, then vacuum, every entity's Delta table.")
    def _maintain(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> dg.Output[int]:
        destination = warehouse.get_warehouse()
        if not isinstance(destination, DeltaLake):
            raise dg.Failure(
                "the destination is DuckDB (D365_DESTINATION is not delta): no Delta table to maintain"
            )
        retention = warehouse.settings().lake_retention_hours
        vacuumed = 0
        for table, key in keys.items():
            result = maintain_table(destination.config, table, retention_hours=retention)
            if result is None:
                context.log.info(f"{table}: no Delta table yet")
                continue
            vacuumed += result.files_vacuumed
            context.log.info(
                f"{result.table_uri}: compacted {result.files_compacted} files into {result.files_written}, "
                f"vacuumed {result.files_vacuumed} (retention {retention} h), version {result.version}"
            )
            context.log_event(
                dg.AssetObservation(
                    asset_key=key,
                    metadata={
                        "d365/table_uri": result.table_uri,
                        "d365/files_compacted": result.files_compacted,
                        "d365/files_vacuumed": result.files_vacuumed,
                        "d365/retention_hours": retention,
                    },
                )
            )
        return dg.Output(vacuumed, metadata={"files_vacuumed": vacuumed})

    @dg.job(name=MAINTENANCE_JOB, description="Compact and vacuum every entity's Delta table.")
    def _job() -> None:
        _maintain()

    schedule = dg.ScheduleDefinition(
        name=f"{MAINTENANCE_JOB}_schedule",
        job=_job,
        cron_schedule=MAINTENANCE_CRON,
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=f"{MAINTENANCE_JOB} on '{MAINTENANCE_CRON}' (UTC).",
    )
    return _job, schedule
