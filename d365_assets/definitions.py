"""The code location: ``dagster dev -w workspace.yaml`` and ``dg`` load ``defs`` from here.

``defs`` is the defs folder :data:`LOCATION_FOLDER` (``d365_assets/location``), whose ``d365/defs.yaml``
declares one :class:`~d365_assets.defs.D365CatalogComponent`: the catalog, the connection and the
warehouse come from the ``D365_*`` variables unless that file says otherwise. :func:`build_definitions`
builds the same definitions in Python, for a given catalog and connection (``Settings``) and translator.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import dagster as dg

from d365_assets.catalog import load_catalog
from d365_assets.defs import DagsterD365Translator, resources_from_settings
from d365_assets.defs.location import MAX_CONCURRENT_STEPS, build_location
from d365_assets.settings import Settings

__all__ = ["LOCATION_FOLDER", "MAX_CONCURRENT_STEPS", "build_definitions", "defs", "load_location"]

LOCATION_FOLDER = "d365_assets.location"
"""The code location's defs folder (``[tool.dg.project] defs_module`` in pyproject.toml)."""


def build_definitions(
    settings: Settings | None = None, *, translator: DagsterD365Translator | None = None
) -> dg.Definitions:
    """Definitions for the catalog and connection of ``settings``, with the specs ``translator`` gives.

    Without ``settings``, the ``D365_*`` variables: the resources then read them when a run starts,
    so a run config that overrides one resource field keeps every other setting.
    """
    given = settings
    settings = settings or Settings.from_env()
    return build_location(
        load_catalog(settings.catalog_path),
        resources=resources_from_settings(given),
        translator=translator,
        schedules_running=settings.schedules_running,
        lake_maintenance=settings.destination == "delta",
    )


def load_location() -> dg.Definitions:
    """The definitions of the defs folder :data:`LOCATION_FOLDER`, as ``dg`` resolves them."""
    folder = importlib.import_module(LOCATION_FOLDER)
    tree = dg.ComponentTree.from_module(defs_module=folder, project_root=Path(__file__).resolve().parents[1])
    with warnings.catch_warnings():
        # Dagster's component loader uses its own beta classes (code references); nothing of ours.
        warnings.simplefilter("ignore", category=dg.BetaWarning)
        return tree.build_defs()


defs = load_location()
