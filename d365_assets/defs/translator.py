"""Catalog entity -> Dagster AssetSpec. Subclass and override ``get_asset_spec`` to customise."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import dagster as dg

from d365_assets.catalog import EntityConfig

__all__ = ["ASSET_KEY_PREFIX", "DagsterD365Translator", "company_partitions"]

ASSET_KEY_PREFIX = "d365"


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
            kinds={"d365", "duckdb", "polars"},
            partitions_def=company_partitions(entity),
            freshness_policy=dg.FreshnessPolicy.time_window(
                fail_window=timedelta(hours=entity.freshness_hours)
            ),
            code_version=_code_version(entity),
            metadata={
                "d365/entity": entity.name,
                "d365/label": entity.label,
                "d365/data_project": entity.data_project,
                "d365/refresh": entity.refresh.value,
                "d365/natural_key": ", ".join(entity.natural_key),
                **_column_schema(entity),
            },
        )


def _column_schema(entity: EntityConfig) -> dict[str, dg.TableSchema]:
    """Declared columns as table metadata; none when the columns come from $metadata at run time."""
    if entity.schema is None:
        return {}
    columns = [dg.TableColumn(c.name, c.type.duckdb_type) for c in entity.schema]
    return {"dagster/column_schema": dg.TableSchema(columns=columns)}


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
