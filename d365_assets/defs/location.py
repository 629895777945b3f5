"""Everything the code location holds, assembled from one catalog, one translator and the resources."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from d365_assets.catalog import Catalog
from d365_assets.defs.assets import build_d365_assets
from d365_assets.defs.automation import build_jobs, build_schedules
from d365_assets.defs.executor import step_executor
from d365_assets.defs.freshness import build_freshness_checks
from d365_assets.defs.instance import build_abandoned_runs_sensor
from d365_assets.defs.maintenance import build_maintenance
from d365_assets.defs.recurring import build_recurring_sensors
from d365_assets.defs.translator import DagsterD365Translator

__all__ = ["MAX_CONCURRENT_STEPS", "build_location"]

MAX_CONCURRENT_STEPS = 4
"""Entity steps one run executes at once (each waits on its own F&O export), each in its own process
(:mod:`d365_assets.defs.executor`). Across runs, the `d365_export` pool (dagster.yaml) bounds the exports."""


def build_location(
    catalog: Catalog,
    *,
    resources: Mapping[str, dg.ConfigurableResource],
    translator: DagsterD365Translator | None = None,
    schedules_running: bool = True,
    lake_maintenance: bool = False,
) -> dg.Definitions:
    """The assets, checks, jobs, schedules, sensors, resources and executor of ``catalog``.

    Every asset key comes from ``translator``'s specs; ``schedules_running``: whether the schedules and
    the freshness sensor start running, or stopped until switched on in the UI; ``lake_maintenance``:
    whether the Delta lake's maintenance job and schedule are included (the destination is delta).
    """
    translator = translator or DagsterD365Translator()
    assets = build_d365_assets(catalog, translator=translator)
    freshness_checks, freshness_sensor = build_freshness_checks(catalog, assets, running=schedules_running)
    definitions = dg.Definitions(
        assets=assets,
        asset_checks=freshness_checks,
        jobs=build_jobs(catalog, translator=translator),
        schedules=build_schedules(catalog, translator=translator, running=schedules_running),
        sensors=[
            freshness_sensor,
            build_abandoned_runs_sensor(),
            *build_recurring_sensors(catalog, running=schedules_running),
        ],
        resources=dict(resources),
        executor=step_executor(max_concurrent=MAX_CONCURRENT_STEPS),
    )
    if not lake_maintenance:
        return definitions
    job, schedule = build_maintenance(catalog, translator=translator, running=schedules_running)
    return dg.Definitions.merge(definitions, dg.Definitions(jobs=[job], schedules=[schedule]))
