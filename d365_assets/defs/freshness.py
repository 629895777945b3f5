"""Freshness checks that OSS Dagster can alert on, beside each asset's FreshnessPolicy.

The FreshnessPolicy drives the UI's freshness state; open-source Dagster has no alert hook on it.
A freshness *check* fails visibly (and can drive alerts through run-failure or check sensors), so
each entity also gets one, evaluated by a sensor that runs with the daemon.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from d365_assets.catalog import Catalog

__all__ = ["FRESHNESS_SENSOR", "build_freshness_checks"]

FRESHNESS_SENSOR = "d365_freshness_checks_sensor"


def build_freshness_checks(
    catalog: Catalog, assets: Sequence[dg.AssetsDefinition], *, running: bool = True
) -> tuple[list[dg.AssetChecksDefinition], dg.SensorDefinition]:
    """One last-update freshness check per entity (window from the catalog) and their sensor.

    ``assets`` are the catalog's entity assets in its order (:func:`~d365_assets.defs.build_d365_assets`),
    so each check is on the key the translator gave. ``running``: whether the sensor starts running.
    """
    checks: list[dg.AssetChecksDefinition] = []
    with warnings.catch_warnings():
        # Superseded in favour of FreshnessPolicy, which we set too; the checks add OSS alerting.
        warnings.simplefilter("ignore", category=dg.SupersessionWarning)
        for entity, asset in zip(catalog.entities, assets, strict=True):
            checks.extend(
                dg.build_last_update_freshness_checks(
                    assets=[asset], lower_bound_delta=timedelta(hours=entity.freshness_hours)
                )
            )
        sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=FRESHNESS_SENSOR,
            default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        )
    return checks, sensor
