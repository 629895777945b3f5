"""The entity catalog: which F&O data entities are exported, how, and into which tables.

The catalog is a YAML file (the shipped ``catalog.yaml`` by default, ``D365_CATALOG`` to
override). :func:`load_catalog` validates it completely and raises :class:`CatalogError` with a
message naming the file, the entity and the fix. The file is read strictly (UTF-8, each key once,
no anchors or aliases: :mod:`d365_assets.strict_yaml`), and its crons are checked as Dagster's
schedules will need them (:mod:`d365_assets.cron`), so a broken catalog fails when the definitions
load, never later inside a run or a schedule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from d365_assets import strict_yaml
from d365_assets.cron import CRON_SYNTAX, CronError, check_cron
from d365_assets.errors import D365AssetsError
from d365_assets.schema import RESERVED_COLUMNS, ColumnType, EntitySchema, RefreshMode

__all__ = ["SHIPPED_CATALOG", "Catalog", "CatalogError", "EntityConfig", "load_catalog"]

SHIPPED_CATALOG = Path(__file__).with_name("catalog.yaml")

_COMPANY_PATTERN = re.compile(r"^[A-Za-z0-9]{1,4}$")
_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_GROUP_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


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
    schema: EntitySchema | None
    """The declared columns; None when the catalog leaves them out and F&O's $metadata supplies them."""
    freshness_hours: float
    refresh_cron: str
    reconcile_cron: str | None

    @property
    def table_name(self) -> str:
        """DuckDB table name: the collection name in snake case (``CustomersV3`` -> ``customers_v3``)."""
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", self.name).lower()


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
    parser = _CatalogParser(Path(path) if path else SHIPPED_CATALOG)
    return parser.parse(parser.read())


class _CatalogParser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str, fix: str) -> CatalogError:
        return CatalogError(f"{self.path}: {where}: {problem}. Fix: {fix}")

    def read(self) -> Any:
        """The YAML document of the file, read strictly (see :mod:`d365_assets.strict_yaml`)."""
        try:
            return strict_yaml.load_file(self.path)
        except FileNotFoundError:
            raise CatalogError(
                f"catalog file {self.path} does not exist: set D365_CATALOG to an existing catalog YAML, "
                f"or unset it to use the shipped catalog"
            ) from None
        except IsADirectoryError:
            raise self.fail(
                "catalog path",
                "this is a folder, not a catalog file",
                "D365_CATALOG must name the catalog YAML file itself (e.g. .../catalog.yaml), not its folder",
            ) from None
        except OSError as exc:
            raise self.fail(
                "catalog file",
                f"it cannot be read ({exc.strerror})",
                "make it readable by the user running Dagster",
            ) from None
        except strict_yaml.StrictYamlError as exc:
            raise self.fail(self.place(exc), exc.problem, exc.fix) from None

    def place(self, exc: strict_yaml.StrictYamlError) -> str:
        """``entity <name>, line <n>`` when the problem lies within an entity, else ``line <n>``."""
        if exc.line is None:
            return "YAML"
        found = strict_yaml.list_item_at(exc.root, "entities", exc.line)
        if found is None:
            return f"line {exc.line}"
        name = strict_yaml.mapping_value(found[1], "name")
        entity = name.value if isinstance(name, yaml.ScalarNode) else f"#{found[0] + 1}"
        return f"entity {entity}, line {exc.line}"

    def parse(self, document: Any) -> Catalog:
        if not isinstance(document, dict):
            raise self.fail(
                "top level", "the catalog must be a mapping", "start from the shipped catalog.yaml"
            )
        self.known_keys(document, _TOP_KEYS, "top level")
        version = document.get("version", 1)
        if type(version) is not int or version != 1:
            raise self.fail("version", f"unsupported version {version!r}", "use version: 1")
        companies = self.companies(document.get("companies"), "companies")
        defaults = self.defaults(document.get("defaults"))
        raw_entities = document.get("entities")
        if not isinstance(raw_entities, list) or not raw_entities:
            raise self.fail(
                "entities", "there must be a non-empty list of entities", "add at least one entity"
            )
        entities = tuple(self.entity(raw, i, companies, defaults) for i, raw in enumerate(raw_entities))
        self.check_unique(entities)
        return Catalog(path=self.path, companies=companies, entities=entities)

    def check_unique(self, entities: tuple[EntityConfig, ...]) -> None:
        """Names, tables and data projects are each entity's own; no project serves two purposes."""
        for roles, fix in (
            (("name",), "give every entity its own name"),
            (("table_name",), "give every entity its own name (the table is the name in snake case)"),
            (
                ("data_project", "reconcile_project"),
                "give every entity its own data projects; a reconcile replaces the company's rows with "
                "its export, so it needs a full-push project of its own",
            ),
        ):
            seen: dict[str, str] = {}
            for entity, role in ((entity, role) for entity in entities for role in roles):
                value = getattr(entity, role)
                if value in seen:
                    raise self.fail(
                        f"entity {entity.name}", f"{role} {value!r} is also used by {seen[value]}", fix
                    )
                if value is not None:
                    seen[value] = f"entity {entity.name}" + (f" as its {role}" if len(roles) > 1 else "")

    def known_keys(self, mapping: dict, allowed: frozenset[str], where: str) -> None:
        unknown = set(mapping) - allowed
        if unknown:
            raise self.fail(where, f"unknown keys {sorted(map(str, unknown))}", f"use only {sorted(allowed)}")

    def defaults(self, value: Any) -> dict[str, Any]:
        """The validated defaults: freshness and the crons that entities do not set themselves."""
        value = {} if value is None else value
        if not isinstance(value, dict):
            raise self.fail("defaults", "must be a mapping", "write defaults as key: value pairs")
        self.known_keys(value, frozenset(_BUILT_IN_DEFAULTS), "defaults")
        merged = {**_BUILT_IN_DEFAULTS, **value}
        self.freshness(merged["freshness_hours"], "defaults")
        self.cron(merged["refresh_cron"], "refresh_cron", "defaults")
        self.cron(merged["reconcile_cron"], "reconcile_cron", "defaults")
        return merged

    def companies(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(
                where, "needs a non-empty list of legal entities", "write e.g. companies: [USMF, DEMF]"
            )
        result = []
        for company in value:
            if not isinstance(company, str) or not _COMPANY_PATTERN.match(company):
                raise self.fail(
                    where,
                    f"{company!r} is not a legal entity id (1 to 4 letters or digits)",
                    "use the company ids of F&O, e.g. USMF",
                )
            result.append(company.upper())
        if len(set(result)) != len(result):
            raise self.fail(where, "a company is listed twice", "list each company once")
        return tuple(result)

    def entity(self, raw: Any, index: int, companies: tuple[str, ...], defaults: dict) -> EntityConfig:
        where = f"entity #{index + 1}"
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a mapping", "see the field list at the top of catalog.yaml")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            raise self.fail(
                where, f"name {name!r} is not a public collection name", "use e.g. name: CustomersV3"
            )
        where = f"entity {name}"
        self.known_keys(raw, _ENTITY_KEYS, where)
        refresh_value = raw.get("refresh")
        try:
            refresh = RefreshMode(refresh_value)
        except ValueError:
            raise self.fail(
                where, f"refresh {refresh_value!r} is not full or delta", "set refresh: full or delta"
            ) from None
        company_specific = raw.get("company_specific", True)
        if not isinstance(company_specific, bool):
            raise self.fail(where, "company_specific must be true or false", "set company_specific: true")
        group = self.text(raw, "group", where)
        if not _GROUP_PATTERN.match(group):
            raise self.fail(
                where, f"group {group!r} is not a snake_case name", "use e.g. group: accounts_receivable"
            )
        schema = self.schema(raw["columns"], where) if "columns" in raw else None
        reconcile_project, reconcile_cron = self.reconcile(raw, refresh, defaults, where)
        return EntityConfig(
            name=name,
            label=self.text(raw, "label", where),
            aot_name=self.text(raw, "aot_name", where, required=False),
            data_project=self.text(raw, "data_project", where),
            reconcile_project=reconcile_project,
            refresh=refresh,
            company_specific=company_specific,
            companies=(
                self.companies(raw["companies"], f"{where}: companies") if "companies" in raw else companies
            ),
            group=group,
            natural_key=self.natural_key(raw.get("natural_key"), schema, where),
            description=self.text(raw, "description", where, required=False) or f"F&O data entity {name}.",
            schema=schema,
            freshness_hours=self.freshness(raw.get("freshness_hours", defaults["freshness_hours"]), where),
            refresh_cron=self.cron(raw.get("refresh_cron", defaults["refresh_cron"]), "refresh_cron", where),
            reconcile_cron=reconcile_cron,
        )

    def reconcile(
        self, raw: dict, refresh: RefreshMode, defaults: dict, where: str
    ) -> tuple[str | None, str | None]:
        """A delta entity's reconcile project and cron; a full entity has neither."""
        if refresh is RefreshMode.FULL:
            for key in ("reconcile_project", "reconcile_cron"):
                if raw.get(key) is not None:
                    raise self.fail(
                        where, f"{key} is only for delta entities", "remove it, or set refresh: delta"
                    )
            return None, None
        project = self.text(raw, "reconcile_project", where, required=False)
        if not project:
            raise self.fail(
                where,
                "a delta entity needs a reconcile_project, because DMF deltas never carry deletes",
                "add reconcile_project: a full-push data project of the same entity",
            )
        return project, self.cron(
            raw.get("reconcile_cron", defaults["reconcile_cron"]), "reconcile_cron", where
        )

    def schema(self, columns: Any, where: str) -> EntitySchema:
        if not isinstance(columns, dict) or not columns:
            raise self.fail(
                where,
                "columns must map each column name to its type",
                "e.g. columns: {CUSTOMERACCOUNT: string}",
            )
        kinds = ", ".join(t.value for t in ColumnType)
        pairs = []
        for column, kind in columns.items():
            if not isinstance(column, str) or not column:
                raise self.fail(where, f"column name {column!r} is not text", "quote it as a string")
            self.not_reserved(column, "column", where)
            if not _COLUMN_PATTERN.match(column):
                raise self.fail(
                    where,
                    f"column name {column!r} is not an F&O field name (letters, digits and _)",
                    "write the field name as the data file's header has it, e.g. CUSTOMERACCOUNT",
                )
            try:
                pairs.append((column, ColumnType(kind)))
            except ValueError:
                raise self.fail(
                    where, f"column {column} has unknown type {kind!r}", f"use one of: {kinds}"
                ) from None
        try:
            return EntitySchema.of(pairs)
        except ValueError as exc:
            raise self.fail(where, str(exc), "remove the duplicate column") from None

    def natural_key(self, value: Any, schema: EntitySchema | None, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(
                where,
                "natural_key must be a non-empty list of columns",
                "e.g. natural_key: [CUSTOMERACCOUNT]",
            )
        result: list[str] = []
        for column in value:
            if isinstance(column, str):
                self.not_reserved(column, "natural_key column", where)
            if not isinstance(column, str) or (schema is not None and schema.get(column) is None):
                raise self.fail(
                    where,
                    f"natural_key column {column!r} is not one of its columns",
                    "name columns listed under columns",
                )
            name = schema.get(column).name if schema else column.upper()
            if name.upper() in (c.upper() for c in result):
                raise self.fail(where, f"natural_key lists {column} twice", "list each key column once")
            result.append(name)
        return tuple(result)

    def not_reserved(self, column: str, role: str, where: str) -> None:
        if column.upper() in RESERVED_COLUMNS:
            raise self.fail(
                where,
                f"{role} {column} is reserved: the loader adds {', '.join(sorted(RESERVED_COLUMNS))} "
                "to the tables itself",
                f"remove {column}: the loader fills DATAAREAID from the export's legal entity (rows are "
                "keyed within their company already) and _EXECUTION_ID and _LOADED_AT from each load",
            )

    def text(self, raw: dict, key: str, where: str, *, required: bool = True) -> str | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key} is missing or empty", f"set {key} (see the top of catalog.yaml)")
        return value.strip()

    def freshness(self, value: Any, where: str) -> float:
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not 1 / 60 <= value <= _MAX_FRESHNESS_HOURS
        ):
            raise self.fail(
                where,
                f"freshness_hours {value!r} must be a number of at least one minute (1/60) "
                f"and at most ten years ({_MAX_FRESHNESS_HOURS})",
                "e.g. 26",
            )
        return float(value)

    def cron(self, value: Any, key: str, where: str) -> str:
        """A valid cron expression (see :mod:`d365_assets.cron`) for ``key``."""
        try:
            check_cron(value)
        except CronError as exc:
            raise self.fail(
                where, f"{key} {value!r} is not a valid cron expression: {exc}", CRON_SYNTAX
            ) from None
        return value


_TOP_KEYS = frozenset({"version", "companies", "defaults", "entities"})
_BUILT_IN_DEFAULTS = {"freshness_hours": 26, "refresh_cron": "0 2 * * *", "reconcile_cron": "0 4 * * 0"}
_MAX_FRESHNESS_HOURS = 24 * 3653
_ENTITY_KEYS = frozenset(field.name for field in fields(EntityConfig)) - {"schema"} | {"columns"}
"""An entity's keys in the file: its fields, with its schema written as ``columns``."""
