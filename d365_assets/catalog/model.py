"""The catalog file's shape, declared: pydantic models of the document, its defaults and its entities.

:func:`d365_assets.catalog.load_catalog` validates the YAML document against :class:`CatalogDocument`
and turns the result into the frozen dataclasses the rest of the code uses. Types are strict (no
``true`` for 1, no ``"5"`` for 5.0, no set for a list) and unknown keys are refused.

Every field carries a :class:`Refusal`: the problem and the fix told when its value fails the field's
type or constraints. The rules across fields (a delta entity's reconcile project, the natural key
among the columns, one data project per purpose, ...) and the checks beyond a type (reserved
columns, crons that fire) raise :func:`refusal` errors with their own problem and fix.
:mod:`d365_assets.catalog.refusals` turns a ``ValidationError`` into the one message the reader gets.

A key written without a value (YAML reads ``refresh_cron:`` as null) is refused where leaving the
key out means "take the default": its author meant to write something.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from d365_assets.catalog.cron import CRON_SYNTAX, CronError, check_cron
from d365_assets.catalog.problems import REFUSAL, Refusal, refusal
from d365_assets.catalog.recurring import (
    ACTIVITY_REFUSAL,
    RECURRING_COMPANY_REFUSAL,
    ActivityId,
    check_recurring_companies,
    check_recurring_entry,
)
from d365_assets.schema import RESERVED_COLUMNS, ColumnType, EntitySchema, Locale, RefreshMode

__all__ = [
    "NAME_PATTERN",
    "REFUSAL",
    "CatalogDefaults",
    "CatalogDocument",
    "CatalogModel",
    "EntityEntry",
    "Refusal",
    "refusal",
    "table_name",
]

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"
"""An entity's public collection name."""
_WRITTEN_EMPTY = "catalog_written_empty"
"""Error type of a key written without a value where leaving it out takes a default."""
_MAX_FRESHNESS_HOURS = 24 * 3653
_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OWNER = re.compile(r"^(team:[A-Za-z0-9_.-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def table_name(name: str) -> str:
    """The DuckDB table of a collection name: snake case (``CustomersV3`` -> ``customers_v3``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _not_reserved(role: str) -> AfterValidator:
    def check(column: str) -> str:
        if column.upper() in RESERVED_COLUMNS:
            raise refusal(
                f"{role} {column} is reserved: the loader adds {', '.join(sorted(RESERVED_COLUMNS))} "
                "to the tables itself",
                f"remove {column}: the loader fills DATAAREAID from the export's legal entity (rows are "
                "keyed within their company already) and _EXECUTION_ID and _LOADED_AT from each load",
            )
        return column

    return AfterValidator(check)


def _field_name(column: str) -> str:
    if not _COLUMN.match(column):
        raise refusal(
            f"column name {column!r} is not an F&O field name (letters, digits and _)",
            "write the field name as the data file's header has it, e.g. CUSTOMERACCOUNT",
        )
    return column


def _each_column_once(columns: dict[str, ColumnType]) -> dict[str, ColumnType]:
    try:
        EntitySchema.of(columns.items())
    except ValueError as exc:
        raise refusal(str(exc), "remove the duplicate column") from None
    return columns


def _each_company_once(companies: list[str]) -> list[str]:
    if len(set(companies)) != len(companies):
        raise refusal("a company is listed twice", "list each company once")
    return companies


def _snake_case(group: str) -> str:
    if not _GROUP.match(group):
        raise refusal(f"group {group!r} is not a snake_case name", "use e.g. group: accounts_receivable")
    return group


def _known_locale(value: object) -> object:
    """A locale's name, in any case (F&O shows ``en-us``), as the :class:`Locale` it names."""
    if isinstance(value, str):
        for locale in Locale:
            if locale.value.casefold() == value.strip().casefold():
                return locale
    return value  # the type check refuses it, with the field's Refusal


def _owner(owner: str) -> str:
    if not _OWNER.match(owner):
        raise refusal(
            f"owner {owner!r} is neither an email address nor a team:<name>",
            "write e.g. owners: [team:finance_data, jane@contoso.com]",
        )
    return owner


def _fires(value: object, info: ValidationInfo) -> object:
    try:
        check_cron(value)
    except CronError as exc:
        raise refusal(
            f"{info.field_name} {value!r} is not a valid cron expression: {exc}", CRON_SYNTAX
        ) from None
    return value


Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1)]
"""Text with something in it, stripped."""
Company = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9]{1,4}$"), AfterValidator(str.upper)]
Companies = Annotated[list[Company], Field(min_length=1), AfterValidator(_each_company_once)]
ColumnName = Annotated[StrictStr, Field(min_length=1), _not_reserved("column"), AfterValidator(_field_name)]
Columns = Annotated[
    dict[ColumnName, Annotated[ColumnType, Strict(False)]],
    Field(min_length=1),
    AfterValidator(_each_column_once),
]
KeyColumn = Annotated[StrictStr, _not_reserved("natural_key column")]
Owners = list[Annotated[StrictStr, AfterValidator(_owner)]]
"""Who answers for an entity's tables (Dagster asset owners): email addresses or ``team:<name>``."""
Freshness = Annotated[float, Field(ge=1 / 60, le=_MAX_FRESHNESS_HOURS)]
Cron = Annotated[str, BeforeValidator(_fires)]
"""A cron expression Dagster's schedules accept and that fires (see :mod:`d365_assets.catalog.cron`)."""
LocaleName = Annotated[Locale, BeforeValidator(_known_locale)]
"""The language locale of a data project's source data format (see :mod:`d365_assets.package.locales`)."""

_TEXT = Refusal("$key is missing or empty", "set $key (see the top of catalog.yaml)")
_COMPANIES = Refusal(
    "needs a non-empty list of legal entities",
    "write e.g. companies: [USMF, DEMF]",
    item=Refusal(
        "$value is not a legal entity id (1 to 4 letters or digits)", "use the company ids of F&O, e.g. USMF"
    ),
    under_key=True,
)
_FRESHNESS = Refusal(
    "freshness_hours $value must be a number of at least one minute (1/60) "
    f"and at most ten years ({_MAX_FRESHNESS_HOURS})",
    "e.g. 26",
)
_CRON = Refusal("$key $value is not a valid cron expression: it is not text", CRON_SYNTAX)
"""Only a key written empty gets here; :func:`_fires` tells what is wrong with any other value."""
_LOCALE = Refusal(
    "locale $value is not one the reader knows",
    f"use one of {', '.join(Locale)}: the language locale of the data project's source data format "
    "(its regional settings in F&O); for another locale, set that format's locale to one of these",
)
_COLUMNS = Refusal(
    "columns must map each column name to its type",
    "e.g. columns: {CUSTOMERACCOUNT: string}",
    key=Refusal("column name $value is not text", "quote it as a string"),
    item=Refusal("column $column has unknown type $value", f"use one of: {', '.join(ColumnType)}"),
)
_OWNERS = Refusal(
    "owners must be a list of email addresses or team:<name>",
    "write e.g. owners: [team:finance_data, jane@contoso.com]",
    item=Refusal("owner $value is not text", "write it as an email address or team:<name>"),
)
_NATURAL_KEY = Refusal(
    "natural_key must be a non-empty list of columns",
    "e.g. natural_key: [CUSTOMERACCOUNT]",
    item=Refusal("natural_key column $value is not one of its columns", "name columns listed under columns"),
)


class CatalogModel(BaseModel):
    """A mapping of the catalog file: strict types, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid")
    not_a_mapping: ClassVar[Refusal]
    """What a value that is not a mapping is told where this model is expected."""


class CatalogDefaults(CatalogModel):
    """The freshness and crons of entities that do not set their own."""

    not_a_mapping: ClassVar = Refusal("must be a mapping", "write defaults as key: value pairs")

    freshness_hours: Annotated[Freshness, _FRESHNESS] = 26.0
    refresh_cron: Annotated[Cron, _CRON] = "0 2 * * *"
    reconcile_cron: Annotated[Cron, _CRON] = "0 4 * * 0"
    owners: Annotated[Owners, _OWNERS] = []
    locale: Annotated[LocaleName | None, _LOCALE] = None
    """None: not declared (dates in ISO form, or en-US with its AM/PM clock; numbers ``1234.56``)."""

    @field_validator("locale", mode="before")
    @classmethod
    def _written_with_a_value(cls, value: Any) -> Any:
        """``locale:`` with no value is refused, not taken for "not declared"."""
        if value is None:
            raise PydanticCustomError(_WRITTEN_EMPTY, "the key is written without a value")
        return value


class EntityEntry(CatalogModel):
    """One entity as the file writes it; its fields in the order they are checked."""

    not_a_mapping: ClassVar = Refusal("must be a mapping", "see the field list at the top of catalog.yaml")

    name: Annotated[
        StrictStr,
        StringConstraints(pattern=NAME_PATTERN),
        Refusal("name $value is not a public collection name", "use e.g. name: CustomersV3"),
    ]
    refresh: Annotated[
        RefreshMode,
        Strict(False),
        Refusal("refresh $value is not full or delta", "set refresh: full or delta"),
    ]
    company_specific: Annotated[
        StrictBool, Refusal("company_specific must be true or false", "set company_specific: true")
    ] = True
    group: Annotated[Text, AfterValidator(_snake_case), _TEXT]
    columns: Annotated[Columns | None, _COLUMNS] = None
    reconcile_project: Annotated[Text | None, _TEXT] = None
    reconcile_cron: Annotated[Cron | None, _CRON] = None
    label: Annotated[Text, _TEXT]
    aot_name: Annotated[Text | None, _TEXT] = None
    data_project: Annotated[Text, _TEXT]
    locale: Annotated[LocaleName | None, _LOCALE] = None
    companies: Annotated[Companies | None, _COMPANIES] = None
    recurring_activity_id: Annotated[ActivityId | None, ACTIVITY_REFUSAL] = None
    recurring_company: Annotated[Company | None, RECURRING_COMPANY_REFUSAL] = None
    natural_key: Annotated[list[KeyColumn], Field(min_length=1), _NATURAL_KEY]
    description: Annotated[Text | None, _TEXT] = None
    owners: Annotated[Owners | None, _OWNERS] = None
    freshness_hours: Annotated[Freshness | None, _FRESHNESS] = None
    refresh_cron: Annotated[Cron | None, _CRON] = None

    @field_validator(
        "companies",
        "columns",
        "owners",
        "freshness_hours",
        "refresh_cron",
        "reconcile_cron",
        "locale",
        "recurring_activity_id",
        "recurring_company",
        mode="before",
    )
    @classmethod
    def _written_with_a_value(cls, value: Any, info: ValidationInfo) -> Any:
        """``key:`` with no value is refused, not taken for a key left out (but a full entity's reconcile)."""
        if value is None and not (info.field_name == "reconcile_cron" and _is_full(info)):
            raise PydanticCustomError(_WRITTEN_EMPTY, "the key is written without a value")
        return value

    @field_validator("reconcile_project", "reconcile_cron", mode="before")
    @classmethod
    def _only_for_delta(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and _is_full(info):
            raise refusal(f"{info.field_name} is only for delta entities", "remove it, or set refresh: delta")
        return value

    @model_validator(mode="after")
    def _delta_has_a_reconcile_project(self) -> EntityEntry:
        if self.refresh is RefreshMode.DELTA and self.reconcile_project is None:
            raise refusal(
                "a delta entity needs a reconcile_project, because DMF deltas never carry deletes",
                "add reconcile_project: a full-push data project of the same entity",
            )
        return self

    @model_validator(mode="after")
    def _recurring_job_says_its_company(self) -> EntityEntry:
        """A recurring job's dequeue tells no company: a company-specific entity names the job's own."""
        check_recurring_entry(self)
        return self

    @model_validator(mode="after")
    def _natural_key_among_columns(self) -> EntityEntry:
        """Each key column is a declared column (any when none are), once; spelled as its column is."""
        schema = self.declared_schema
        spelled: list[str] = []
        for column in self.natural_key:
            declared = schema.get(column) if schema is not None else None
            if schema is not None and declared is None:
                raise refusal(
                    f"natural_key column {column!r} is not one of its columns",
                    "name columns listed under columns",
                )
            name = declared.name if declared is not None else column.upper()
            if name.upper() in (known.upper() for known in spelled):
                raise refusal(f"natural_key lists {column} twice", "list each key column once")
            spelled.append(name)
        self.natural_key = spelled
        return self

    @property
    def declared_schema(self) -> EntitySchema | None:
        """The declared columns; None when the file leaves them to F&O's $metadata."""
        return None if self.columns is None else EntitySchema.of(self.columns.items())


def _is_full(info: ValidationInfo) -> bool:
    """Whether the entity being checked has ``refresh: full`` (fields are checked in declaration order)."""
    return info.data.get("refresh") is RefreshMode.FULL


class CatalogDocument(CatalogModel):
    """The whole catalog file."""

    not_a_mapping: ClassVar = Refusal("the catalog must be a mapping", "start from the shipped catalog.yaml")

    version: Annotated[
        StrictInt, Field(ge=1, le=1), Refusal("unsupported version $value", "use version: 1", under_key=True)
    ] = 1
    companies: Annotated[Companies, _COMPANIES]
    defaults: CatalogDefaults | None = None
    entities: Annotated[
        list[EntityEntry],
        Field(min_length=1),
        Refusal("there must be a non-empty list of entities", "add at least one entity", under_key=True),
    ]

    @model_validator(mode="after")
    def _each_entity_its_own(self) -> CatalogDocument:
        """Names, tables and data projects are each entity's own; no project serves two purposes."""
        for roles, fix in _OWN:
            seen: dict[str, str] = {}
            for index, entry, role in ((i, e, r) for i, e in enumerate(self.entities) for r in roles):
                value = table_name(entry.name) if role == "table_name" else getattr(entry, role)
                if value in seen:
                    raise refusal(f"{role} {value!r} is also used by {seen[value]}", fix, entity=index)
                if value is not None:
                    seen[value] = f"entity {entry.name}" + (f" as its {role}" if len(roles) > 1 else "")
        check_recurring_companies(self.entities, self.companies)
        return self


_OWN = (
    (("name",), "give every entity its own name"),
    (("table_name",), "give every entity its own name (the table is the name in snake case)"),
    (
        ("data_project", "reconcile_project"),
        "give every entity its own data projects; a reconcile replaces the company's rows with "
        "its export, so it needs a full-push project of its own",
    ),
    (
        ("recurring_activity_id",),
        "give every entity its own recurring job: a message acknowledged by one is gone for the other",
    ),
)
"""Roles whose values no two entities share (nor one entity in two of its roles), with the fix."""
