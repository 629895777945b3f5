"""The YAML front end: a component type whose ``defs.yaml`` points at an entity catalog.

::

    # defs.yaml
    type: d365_assets.defs.D365CatalogComponent
    attributes:
      catalog: catalog.yaml              # beside this file; unset: D365_CATALOG, else the shipped one
      connection:                        # optional; unset fields: their D365_* variables
        environment_url: https://contoso.operations.dynamics.com
      warehouse:                         # optional; unset fields: their D365_* variables
        database: md:analytics
      schedules: stopped                 # optional; unset: D365_SCHEDULES
      translation:                       # optional: change every entity's asset spec
        key_prefix: erp
        owners: [team:finance_data]
        group_name: "{{ entity.group }}"

The catalog stays the one source of truth for the entities and companies; the component says where it
is, how to reach F&O and where to load. The client secret is never an attribute: it is read from
``D365_CLIENT_SECRET`` when a run starts. ``dg scaffold defs d365_assets.defs.D365CatalogComponent
<name>`` writes a ``defs.yaml`` and a copy of the shipped catalog to start from. One instance per
code location: its jobs, sensors and resources have fixed names.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from typing import Annotated, Any, Literal

import dagster as dg
from dagster.components.component_scaffolding import scaffold_component
from dagster.components.utils.translation import TranslationFnResolver
from pydantic import BaseModel, Field

from d365_assets.catalog import SHIPPED_CATALOG, EntityConfig, load_catalog
from d365_assets.defs.location import build_location
from d365_assets.defs.resources import D365Resource, WarehouseResource
from d365_assets.defs.translator import DagsterD365Translator
from d365_assets.settings import Settings

__all__ = ["D365CatalogComponent", "D365ConnectionArgs", "D365WarehouseArgs"]

SpecTranslation = Callable[[dg.AssetSpec, EntityConfig], dg.AssetSpec]


class D365ConnectionArgs(dg.Model):
    """Where F&O is and how to sign in (no secret here). Unset fields: their ``D365_*`` variables."""

    environment_url: str | None = Field(None, description="F&O base URL; unset: D365_ENVIRONMENT_URL.")
    tenant_id: str | None = Field(None, description="Microsoft Entra tenant id; unset: D365_TENANT_ID.")
    client_id: str | None = Field(None, description="Application (client) id; unset: D365_CLIENT_ID.")
    client_certificate: str | None = Field(
        None, description="PEM with the app's certificate and key; unset: D365_CLIENT_CERTIFICATE."
    )
    authority_host: str | None = Field(None, description="Token authority; unset: D365_AUTHORITY_HOST.")
    ca_bundle: str | None = Field(None, description="Extra CA certificate (PEM); unset: D365_CA_BUNDLE.")
    emulator_state_dir: str | None = Field(
        None, description="The embedded emulator's state folder; unset: D365_EMULATOR_STATE_DIR."
    )


class D365WarehouseArgs(dg.Model):
    """Where the tables and the waiting packages go. Unset fields: their variables or defaults."""

    database: str | None = Field(None, description="DuckDB file or md:<database>; unset: D365_DUCKDB_PATH.")
    package_dir: str | None = Field(None, description="Package folder; unset: D365_PACKAGE_DIR.")
    lock_timeout_seconds: float | None = Field(None, description="Wait for a held DuckDB file (300 s).")
    max_removed_share: float | None = Field(None, description="Mass-removal guard's share (0.5).")
    destination: Literal["duckdb", "delta"] | None = Field(
        None, description="duckdb, or delta (Delta tables under lake_uri); unset: D365_DESTINATION."
    )
    lake_uri: str | None = Field(
        None, description="The lake: az://<container>/<path>, abfss://..., or a folder; unset: D365_LAKE_URI."
    )


class _TranslatedSpecs(DagsterD365Translator):
    """The shipped translator's spec, then the component's ``translation`` over it."""

    def __init__(self, translation: SpecTranslation) -> None:
        self._translation = translation

    def get_asset_spec(self, entity: EntityConfig) -> dg.AssetSpec:
        return self._translation(super().get_asset_spec(entity), entity)


class D365ScaffoldParams(BaseModel):
    """``dg scaffold defs ... --json-params '{"catalog": "..."}'``: an existing catalog to point at."""

    catalog: str | None = None


class D365CatalogScaffolder(dg.Scaffolder[D365ScaffoldParams]):
    """Writes ``defs.yaml``; without a ``catalog`` parameter, also a copy of the shipped catalog beside it."""

    @classmethod
    def get_scaffold_params(cls) -> type[D365ScaffoldParams]:
        return D365ScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[D365ScaffoldParams]) -> None:
        catalog = request.params.catalog
        if catalog is None:
            request.target_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHIPPED_CATALOG, request.target_path / "catalog.yaml")
            catalog = "catalog.yaml"
        scaffold_component(request, {"catalog": catalog})


@dg.scaffold_with(D365CatalogScaffolder)
class D365CatalogComponent(dg.Component, dg.Model, dg.Resolvable):
    """Dynamics 365 F&O data entities as assets loaded into DuckDB, from an entity catalog file.

    One asset per catalog entity (partitioned by company where the entity is company-specific), with
    its checks, refresh and reconcile jobs, schedules, freshness checks, and the ``d365`` and
    ``warehouse`` resources.
    """

    catalog: str | None = Field(
        None,
        description="The entity catalog YAML, relative to this defs.yaml's folder or absolute. "
        "Unset: D365_CATALOG, else the shipped catalog.",
    )
    connection: D365ConnectionArgs | None = Field(None, description="The F&O connection.")
    warehouse: D365WarehouseArgs | None = Field(None, description="The DuckDB warehouse, or the Delta lake.")
    schedules: Literal["running", "stopped"] | None = Field(
        None,
        description="How schedules and the freshness sensor start. Unset: D365_SCHEDULES, else running "
        "against the embedded emulator and stopped against a real environment.",
    )
    translation: (
        Annotated[
            SpecTranslation,
            TranslationFnResolver[EntityConfig](template_vars_for_translation_fn=lambda e: {"entity": e}),
        ]
        | None
    ) = Field(
        None,
        description="Asset spec attributes over every entity's spec (key_prefix, owners, tags, group_name, "
        "...); the entity's catalog fields are available as {{ entity.<field> }}.",
    )

    def settings(self, context: dg.ComponentLoadContext) -> Settings:
        """The ``D365_*`` settings with this instance's catalog, connection and schedules over them."""
        overrides: dict[str, Any] = {**_given(self.connection)}
        if self.catalog is not None:
            overrides["catalog_path"] = str(context.path / self.catalog)
        if self.schedules is not None:
            overrides["schedules"] = self.schedules
        lake = {
            name: value
            for name, value in _given(self.warehouse).items()
            if name in ("destination", "lake_uri")
        }
        return dataclasses.replace(Settings.from_env(), **overrides, **lake)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        settings = self.settings(context)
        warehouse = _given(self.warehouse)
        resources = {
            "d365": D365Resource(**_given(self.connection)),
            "warehouse": WarehouseResource(**warehouse),
        }
        return build_location(
            load_catalog(settings.catalog_path),
            resources=resources,
            translator=_TranslatedSpecs(self.translation) if self.translation else None,
            schedules_running=settings.schedules_running,
            lake_maintenance=settings.destination == "delta",
        )


def _given(args: dg.Model | None) -> dict[str, Any]:
    """The fields an attribute block sets (the unset ones are left to their variables)."""
    return {} if args is None else {k: v for k, v in args.model_dump().items() if v is not None}
