"""The code location: ``dagster dev`` (via workspace.yaml) loads ``defs`` from here."""

from __future__ import annotations

import dagster as dg

from d365_assets.catalog import load_catalog
from d365_assets.defs import build_d365_assets, build_jobs, build_schedules, resources_from_settings
from d365_assets.defs.executor import step_executor
from d365_assets.defs.freshness import build_freshness_checks
from d365_assets.defs.instance import build_abandoned_runs_sensor
from d365_assets.settings import Settings

__all__ = ["MAX_CONCURRENT_STEPS", "build_definitions", "defs"]

MAX_CONCURRENT_STEPS = 4
"""Entity steps one run executes at once (each waits on its own F&O export), each in its own process
(:mod:`d365_assets.defs.executor`). Across runs, the `d365_export` pool (dagster.yaml) bounds the exports."""


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions for the catalog and connection named by ``settings`` (the environment by default)."""
    settings = settings or Settings.from_env()
    catalog = load_catalog(settings.catalog_path)
    assets = build_d365_assets(catalog)
    freshness_checks, freshness_sensor = build_freshness_checks(catalog, assets)
    return dg.Definitions(
        assets=assets,
        asset_checks=freshness_checks,
        jobs=build_jobs(catalog),
        schedules=build_schedules(catalog),
        sensors=[freshness_sensor, build_abandoned_runs_sensor()],
        resources=resources_from_settings(settings),
        executor=step_executor(max_concurrent=MAX_CONCURRENT_STEPS),
    )


defs = build_definitions()
