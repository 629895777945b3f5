"""Catalog entity -> Dagster AssetSpec: the one place an entity's asset key, owners and tags are made.

Subclass :class:`DagsterD365Translator` and override ``get_asset_spec`` to customise (another key
prefix, owners, groups, ...), then pass it to ``build_definitions(translator=...)``: the assets, their
checks, the jobs, schedules and freshness checks, and the runs of ``d365-assets demo`` all follow the
specs it returns. In a ``defs.yaml``, the component's ``translation`` does the same without code.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import dagster as dg

from d365_assets.catalog import EntityConfig
from d365_assets.defs.metadata import entity_metadata

__all__ = ["ASSET_KEY_PREFIX", "KINDS", "REFRESH_TAG", "DagsterD365Translator", "company_partitions"]

ASSET_KEY_PREFIX = "d365"
KINDS = frozenset({"d365", "microsoft", "duckdb", "polars"})
"""Kinds of every entity asset. Dagster's UI draws icons only for the kinds it knows: ``microsoft``
gives the assets Microsoft's; ``d365`` (no icon of its own) keeps ``kind:d365`` as their filter."""
REFRESH_TAG = "d365/refresh"
"""Asset tag holding the entity's refresh mode (``full`` or ``delta``), to filter the catalog by."""


def company_partitions(entity: EntityConfig) -> dg.StaticPartitionsDefinition | None:
    """One partition per legal entity for company-specific entities; None for shared ones."""
    return dg.StaticPartitionsDefinition(list(entity.companies)) if entity.company_specific else None


class DagsterD365Translator:
    """Turns a catalog entity into the spec of its asset (key ``d365/<table>``)."""

    def get_asset_spec(self, entity: EntityConfig) -> dg.AssetSpec:
        """The asset spec of one entity."""
        return dg.AssetSpec(
            key=[ASSET_KEY_PREFIX, entity.table_name],
            description=entity.description,
            group_name=entity.group,
            kinds=set(KINDS),
            owners=list(entity.owners),
            tags={REFRESH_TAG: entity.refresh.value},
            partitions_def=company_partitions(entity),
            freshness_policy=dg.FreshnessPolicy.time_window(
                fail_window=timedelta(hours=entity.freshness_hours)
            ),
            code_version=_code_version(entity),
            metadata=entity_metadata(entity),
        )


def _code_version(entity: EntityConfig) -> str:
    """Changes whenever what the asset loads changes: project, mode, key or columns."""
    payload = json.dumps(
        [
            entity.data_project,
            entity.refresh.value,
            entity.natural_key,
            [(c.name, c.type.value) for c in entity.schema] if entity.schema else "$metadata",
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
