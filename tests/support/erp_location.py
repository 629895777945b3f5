"""A code location whose translator puts every entity under ``erp/fo/`` with an owner.

``defs`` is built from the ``D365_*`` variables, as the shipped location is; tests load it as a code
location (``d365_assets.defs.runs.code_location(instance, module=__name__)``).
"""

from __future__ import annotations

import dagster as dg

from d365_assets.catalog import EntityConfig
from d365_assets.definitions import build_definitions
from d365_assets.defs import DagsterD365Translator

__all__ = ["OWNER", "PREFIX", "ErpTranslator", "defs"]

PREFIX = ("erp", "fo")
OWNER = "team:finance_data"


class ErpTranslator(DagsterD365Translator):
    """The shipped spec under another key prefix, owned by the finance data team."""

    def get_asset_spec(self, entity: EntityConfig) -> dg.AssetSpec:
        spec = super().get_asset_spec(entity)
        return spec.replace_attributes(key=dg.AssetKey([*PREFIX, entity.table_name]), owners=[OWNER])


defs = build_definitions(translator=ErpTranslator())
