"""Loading the entity catalog: a YAML file into validated, frozen dataclasses.

The catalog is a YAML file (the shipped ``catalog.yaml`` by default, ``D365_CATALOG`` to
override). :func:`load_catalog` validates it completely and raises :class:`CatalogError` with a
message naming the file, the entity and the fix. The file is read strictly (UTF-8, each key once,
no anchors or aliases: :mod:`d365_assets.catalog.strict_yaml`), then validated against its declared shape
(:mod:`d365_assets.catalog.model`, pydantic), crons included as Dagster's schedules will need them
(:mod:`d365_assets.catalog.cron`), so a broken catalog fails when the definitions load, never later inside
a run or a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from d365_assets.catalog import strict_yaml
from d365_assets.catalog.model import CatalogDefaults, CatalogDocument, EntityEntry, table_name
from d365_assets.catalog.refusals import explain
from d365_assets.errors import D365AssetsError
from d365_assets.schema import EntitySchema, Locale, RefreshMode

__all__ = ["SHIPPED_CATALOG", "Catalog", "CatalogError", "EntityConfig", "load_catalog"]

SHIPPED_CATALOG = Path(__file__).parents[1] / "catalog.yaml"
_T = TypeVar("_T")


class CatalogError(D365AssetsError):
    """The catalog file is missing, not YAML, or describes an entity inconsistently."""


@dataclass(frozen=True)
class EntityConfig:
    """One data entity of the catalog, validated."""

    name: str
    """Public collection name, e.g. ``CustomersV3``."""
    label: str
    """DMF entity label, e.g. ``Customers V3``: the manifest's EntityName and the data file name."""
    aot_name: str | None
    data_project: str
    reconcile_project: str | None
    refresh: RefreshMode
    company_specific: bool
    companies: tuple[str, ...]
    """Partitions of a company-specific entity; a shared entity is exported with the first one."""
    group: str
    natural_key: tuple[str, ...]
    description: str
    owners: tuple[str, ...]
    """Who answers for the entity's tables: email addresses or ``team:<name>`` (Dagster asset owners)."""
    schema: EntitySchema | None
    """The declared columns; None when the catalog leaves them out and F&O's $metadata supplies them."""
    freshness_hours: float
    refresh_cron: str
    reconcile_cron: str | None
    locale: Locale | None = None
    """The language locale of the data project's source data format: the forms of dates and numbers in
    its files. None: not declared (ISO dates, or en-US with its AM/PM clock; numbers as ``1234.56``)."""
    recurring_activity_id: str | None = None
    """The GUID (lower case) of a recurring export data job whose messages load this entity, or None."""
    recurring_company: str | None = None
    """The legal entity that recurring job exports (company-specific entities); None for shared ones."""

    @property
    def table_name(self) -> str:
        """DuckDB table name: the collection name in snake case (``CustomersV3`` -> ``customers_v3``)."""
        return table_name(self.name)


@dataclass(frozen=True)
class Catalog:
    """All entities of a catalog file."""

    path: Path
    companies: tuple[str, ...]
    entities: tuple[EntityConfig, ...]

    def entity(self, name: str) -> EntityConfig:
        """The entity with this collection name or table name."""
        for entity in self.entities:
            if name in (entity.name, entity.table_name):
                return entity
        known = ", ".join(e.name for e in self.entities)
        raise KeyError(f"entity {name!r} is not in the catalog {self.path} (it has: {known})")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog file; the shipped catalog when ``path`` is None."""
    path = Path(path) if path else SHIPPED_CATALOG
    document = _read(path)
    try:
        model = CatalogDocument.model_validate(document)
    except ValidationError as exc:
        raise _refusal(path, *explain(exc, document)) from None
    companies = tuple(model.companies)
    defaults = model.defaults or CatalogDefaults()
    entities = tuple(_entity(entry, companies, defaults) for entry in model.entities)
    return Catalog(path=path, companies=companies, entities=entities)


def _entity(entry: EntityEntry, companies: tuple[str, ...], defaults: CatalogDefaults) -> EntityConfig:
    """The validated entry, with what it leaves out taken from the catalog's companies and defaults."""
    delta = entry.refresh is RefreshMode.DELTA
    return EntityConfig(
        name=entry.name,
        label=entry.label,
        aot_name=entry.aot_name,
        data_project=entry.data_project,
        reconcile_project=entry.reconcile_project,
        refresh=entry.refresh,
        company_specific=entry.company_specific,
        companies=companies if entry.companies is None else tuple(entry.companies),
        group=entry.group,
        natural_key=tuple(entry.natural_key),
        description=entry.description or f"F&O data entity {entry.name}.",
        owners=tuple(_given(entry.owners, defaults.owners)),
        schema=entry.declared_schema,
        freshness_hours=float(_given(entry.freshness_hours, defaults.freshness_hours)),
        refresh_cron=_given(entry.refresh_cron, defaults.refresh_cron),
        reconcile_cron=_given(entry.reconcile_cron, defaults.reconcile_cron) if delta else None,
        locale=entry.locale or defaults.locale,
        recurring_activity_id=entry.recurring_activity_id,
        recurring_company=entry.recurring_company,
    )


def _given(value: _T | None, default: _T) -> _T:
    """The entity's own setting, or the default when it leaves it out."""
    return default if value is None else value


def _refusal(path: Path, where: str, problem: str, fix: str) -> CatalogError:
    return CatalogError(f"{path}: {where}: {problem}. Fix: {fix}")


def _read(path: Path) -> Any:
    """The YAML document of the file, read strictly (see :mod:`d365_assets.catalog.strict_yaml`)."""
    try:
        return strict_yaml.load_file(path)
    except FileNotFoundError:
        raise CatalogError(
            f"catalog file {path} does not exist: set D365_CATALOG to an existing catalog YAML, "
            f"or unset it to use the shipped catalog"
        ) from None
    except IsADirectoryError:
        raise _refusal(
            path,
            "catalog path",
            "this is a folder, not a catalog file",
            "D365_CATALOG must name the catalog YAML file itself (e.g. .../catalog.yaml), not its folder",
        ) from None
    except OSError as exc:
        raise _refusal(
            path,
            "catalog file",
            f"it cannot be read ({exc.strerror})",
            "make it readable by the user running Dagster",
        ) from None
    except strict_yaml.StrictYamlError as exc:
        raise _refusal(path, _place(exc), exc.problem, exc.fix) from None


def _place(exc: strict_yaml.StrictYamlError) -> str:
    """``entity <name>, line <n>`` when the problem lies within an entity, else ``line <n>``."""
    if exc.line is None:
        return "YAML"
    found = strict_yaml.list_item_at(exc.root, "entities", exc.line)
    if found is None:
        return f"line {exc.line}"
    name = strict_yaml.mapping_value(found[1], "name")
    entity = name.value if isinstance(name, yaml.ScalarNode) else f"#{found[0] + 1}"
    return f"entity {entity}, line {exc.line}"
