"""Dagster wiring: thin glue between the catalog, the F&O client, the reader and the loader."""

from d365_assets.defs.assets import build_d365_assets as build_d365_assets
from d365_assets.defs.assets import build_entity_asset as build_entity_asset
from d365_assets.defs.automation import build_jobs as build_jobs
from d365_assets.defs.automation import build_schedules as build_schedules
from d365_assets.defs.component import D365CatalogComponent as D365CatalogComponent
from d365_assets.defs.metadata import D365MetadataSet as D365MetadataSet
from d365_assets.defs.resources import D365Resource as D365Resource
from d365_assets.defs.resources import WarehouseResource as WarehouseResource
from d365_assets.defs.resources import resources_from_settings as resources_from_settings
from d365_assets.defs.translator import DagsterD365Translator as DagsterD365Translator

__all__ = [
    "D365CatalogComponent",
    "D365MetadataSet",
    "D365Resource",
    "DagsterD365Translator",
    "WarehouseResource",
    "build_d365_assets",
    "build_entity_asset",
    "build_jobs",
    "build_schedules",
    "resources_from_settings",
]
