"""Emulator configuration and the data-project catalogue (``projects.yaml``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from typing import Literal

import yaml

from .entities import ENTITIES, EntityDef, find_entity
from .faults import Fault, fault_from_dict
from .layout import EntityLayout
from .package import EMPTY_FORMS, SOURCE_FORMATS
from .render import LOCALES

__all__ = [
    "DUPLICATE_ID_ANSWERS",
    "OUTCOMES",
    "WATERMARK_MOVES",
    "DataProject",
    "EmulatorConfig",
    "RecurringJob",
    "config_from_dict",
    "config_to_dict",
    "data_identity",
    "default_projects",
    "load_projects",
]

Outcome = Literal["Succeeded", "PartiallySucceeded", "Failed", "Canceled", "Unknown"]
OUTCOMES = ("Succeeded", "PartiallySucceeded", "Failed", "Canceled", "Unknown")
DUPLICATE_ID_ANSWERS = ("already_exists", "record_exists", "export_failed", "bare_500")
"""How ExportToPackage answers an execution id it already knows (F&O's wording is unknown): a 400
saying the id exists, a 400 in X++'s duplicate-record words, a 400 with only the generic "Export to
package failed ..." text, or an HTTP 500 with no body."""
WATERMARK_MOVES = ("succeeded", "accepted")
"""When an incremental export moves its project's change-tracking watermark (unknown for F&O)."""


@dataclass(frozen=True)
class DataProject:
    """A DMF data project (definition group) that exports one entity."""

    name: str
    entity: str
    """DMF label or collection name of the exported entity."""
    source_format: str = "CSV-Unicode"
    refresh: Literal["full", "incremental"] = "full"
    locale: Literal["ISO", "en-US", "en-GB", "de-DE"] = "ISO"
    """The language locale of the project's source data format: how its files write dates and numbers."""
    enum_labels: bool = False
    """The mapping writes enum labels (``Product master``) instead of symbols (``ProductMaster``)."""

    def __post_init__(self) -> None:
        find_entity(self.entity)
        if self.source_format not in SOURCE_FORMATS:
            raise ValueError(f"project {self.name}: unknown format {self.source_format!r}")
        if self.refresh not in ("full", "incremental"):
            raise ValueError(f"project {self.name}: refresh must be full or incremental")
        if self.locale not in LOCALES:
            raise ValueError(f"project {self.name}: locale must be one of {LOCALES}, not {self.locale!r}")

    @property
    def entity_def(self) -> EntityDef:
        """The exported entity."""
        return find_entity(self.entity)


@dataclass(frozen=True)
class RecurringJob:
    """A recurring export data job: F&O exports its data project on its own and queues each package.

    An incremental project's first export is full, the later ones its changes since the one before.
    """

    activity_id: str
    """The job's GUID (its ID on Manage scheduled data jobs), lower case without braces."""
    project: str
    """The data project it exports (one of the emulator's data projects)."""
    company: str | None = None
    """The legal entity it exports (None for a shared entity)."""
    recurrence_seconds: float | None = None
    """Exports one package every this many seconds (when the queue is read); None: only when run."""

    def __post_init__(self) -> None:
        guid = re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", self.activity_id)
        if guid is None:
            raise ValueError(f"recurring job {self.activity_id!r}: the activity id must be a lower-case GUID")
        if self.recurrence_seconds is not None and self.recurrence_seconds <= 0:
            raise ValueError(f"recurring job {self.activity_id}: recurrence_seconds must be > 0")


def load_projects(text: str) -> dict[str, DataProject]:
    """Parse a projects YAML document (``projects: {name: {entity, format, refresh, locale, ...}}``)."""
    doc = yaml.safe_load(text) or {}
    projects: dict[str, DataProject] = {}
    for name, spec in (doc.get("projects") or {}).items():
        projects[name] = DataProject(
            name=name,
            entity=spec["entity"],
            source_format=spec.get("format", "CSV-Unicode"),
            refresh=spec.get("refresh", "full"),
            locale=spec.get("locale", "ISO"),
            enum_labels=bool(spec.get("enum_labels", False)),
        )
    return projects


def default_projects() -> dict[str, DataProject]:
    """The data projects shipped with the emulator (``projects.yaml``)."""
    text = resources.files(__package__).joinpath("projects.yaml").read_text(encoding="utf-8")
    return load_projects(text)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything tunable about the emulated environment. Defaults make demos quick."""

    seed: int = 20260301
    companies: tuple[str, ...] = ("USMF", "DEMF")
    rows: Mapping[str, int] = field(default_factory=dict)
    """Initial rows per entity (collection name) and company; missing entities use their defaults."""

    host: str = "127.0.0.1"
    fo_port: int = 0
    authority_port: int = 0
    blob_port: int = 0

    token_lifetime_seconds: int = 3599
    sas_lifetime_seconds: float = 3600.0
    retention_seconds: float = 7 * 24 * 3600.0
    """Age at which an execution's package blob is deleted (the blob then answers 404 BlobNotFound)."""
    expired_package_url: Literal["url", "empty", "error"] = "url"
    """What GetExportedPackageUrl answers once the package is deleted: a signed URL (whose blob answers
    404), ``""`` for ever, or an error (400). Which one F&O gives is not documented."""
    history_retention_seconds: float = 7 * 24 * 3600.0
    """Job history clean-up: an execution older than this is deleted, and every action then answers
    for it as for an unknown id (400 "Execution details were not found")."""
    blob_content_md5: bool = True
    """Package blobs have a stored MD5, sent on downloads (``Content-MD5`` / ``x-ms-blob-content-md5``)."""

    not_visible_seconds: float = 0.2
    not_run_seconds: float = 0.2
    executing_seconds: float = 0.3
    package_url_delay_seconds: float = 0.2

    insert_rate: float = 0.02
    update_rate: float = 0.03
    delete_rate: float = 0.01
    activity_interval_seconds: float = 0.0
    """When > 0, one activity round also passes every this many seconds of wall-clock time."""

    export_synchronous: bool = False
    """F&O's "Run data package export API synchronously": ExportToPackage answers only once the export
    is done (Executing for ``executing_seconds``, then its package built), however long a client waits."""
    duplicate_id_answer: str = "already_exists"
    """How ExportToPackage refuses an execution id it already knows: one of :data:`DUPLICATE_ID_ANSWERS`."""
    watermark_moves: str = "succeeded"
    """``succeeded``: an incremental export moves the watermark once it ends Succeeded or
    PartiallySucceeded; ``accepted``: as soon as ExportToPackage accepts it, whatever its outcome (a
    Canceled or Failed delta's changes are then never exported again)."""
    export_size_limit_bytes: int | None = None
    """DMF's export file size limit (F&O: 256 MB by default, 5 GB with Azure Storage set up in the
    framework parameters): an export whose data file is larger ends Failed, with an execution error
    and no package. None: no limit."""
    partial_failed_rows: int = 2
    """Rows a PartiallySucceeded export leaves out of its package; its execution errors say how many."""

    strict_project_check: bool = True
    """True: ExportToPackage rejects an unknown data project at once (400); False: it fails later."""
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    """Forced outcome per data project name (default Succeeded)."""
    outcome_errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Messages GetExecutionErrors returns for a project with a forced non-success outcome."""
    projects: Mapping[str, DataProject] | None = None
    """Replace the shipped data projects entirely."""
    extra_projects: Mapping[str, DataProject] = field(default_factory=dict)
    """Add or override data projects on top of the shipped (or replaced) ones."""
    faults: tuple[Fault, ...] = ()
    """Faults to activate (replacing the active ones) when an emulator is constructed with this
    configuration; see :mod:`.faults`. Runtime state, not recorded in ``environment.json``."""
    extra_columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Upstream schema drift: columns (upper-case name -> type) added to an entity (any entity name).
    They are appended to its files and manifests, with deterministic values, and are in
    ``source_rows``. Not part of the data identity: may change on an existing state directory."""
    dropped_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Catalog columns (never key columns) left out of an entity's files, manifests and ``source_rows``."""
    empty_export: Literal["header", "zero_bytes", "no_file"] = "header"
    """How an export without rows (a delta with nothing new, say) carries its entity: a header row
    only, a zero-byte file, or no file in the package (the manifest still names it)."""
    empty_projects: tuple[str, ...] = ()
    """Data projects whose exports carry no rows, as with a filter on the project that matches nothing."""
    recurring_jobs: tuple[RecurringJob, ...] = ()
    """Recurring export jobs, each with its queue (the recurring integrations API)."""
    recurring_visibility_seconds: float = 1800.0
    """How long a dequeued message stays hidden before it comes back unless acknowledged (F&O: 30 min)."""
    recurring_http_locations: bool = False
    """Dequeue answers ``http://`` download locations, as F&O behind a load balancer does."""

    def __post_init__(self) -> None:
        for entity in self.rows:
            find_entity(entity)  # raises KeyError for an unknown entity name
        for project, outcome in self.outcomes.items():
            if outcome not in OUTCOMES:
                raise ValueError(f"outcome for {project!r} must be one of {OUTCOMES}, not {outcome!r}")
        if self.duplicate_id_answer not in DUPLICATE_ID_ANSWERS:
            raise ValueError(f"duplicate_id_answer must be one of {DUPLICATE_ID_ANSWERS}")
        if self.watermark_moves not in WATERMARK_MOVES:
            raise ValueError(f"watermark_moves must be one of {WATERMARK_MOVES}")
        if self.partial_failed_rows < 0 or (self.export_size_limit_bytes or 0) < 0:
            raise ValueError("partial_failed_rows and export_size_limit_bytes must be >= 0")
        for entity in (*self.extra_columns, *self.dropped_columns):
            self.layout(find_entity(entity))  # raises for an unknown entity or a bad column
        if self.expired_package_url not in ("url", "empty", "error"):
            raise ValueError(
                f"expired_package_url must be url, empty or error, not {self.expired_package_url!r}"
            )
        projects = self.data_projects()
        for job in self.recurring_jobs:
            if job.project not in projects:
                raise ValueError(f"recurring job {job.activity_id}: unknown data project {job.project!r}")
        if self.empty_export not in EMPTY_FORMS:
            raise ValueError(f"empty_export must be one of {EMPTY_FORMS}, not {self.empty_export!r}")

    def layout(self, entity: EntityDef) -> EntityLayout:
        """The columns ``entity``'s data files hold under this configuration's schema drift."""
        extra: dict[str, str] = {}
        dropped: list[str] = []
        for name, columns in self.extra_columns.items():
            if find_entity(name) == entity:
                extra.update(columns)
        for name, columns in self.dropped_columns.items():
            if find_entity(name) == entity:
                dropped.extend(columns)
        return EntityLayout(entity, extra=extra, dropped=tuple(dropped))

    def data_projects(self) -> dict[str, DataProject]:
        """The effective data projects by name."""
        base = dict(self.projects) if self.projects is not None else default_projects()
        base.update(self.extra_projects)
        return base


_PER_PROCESS = ("host", "fo_port", "authority_port", "blob_port")


def config_to_dict(config: EmulatorConfig) -> dict[str, object]:
    """The JSON-able form of a configuration, without the per-process listener settings."""
    data = asdict(config)
    for key in _PER_PROCESS:
        data.pop(key)
    data.pop("faults", None)  # runtime state (SQLite), not part of the recorded environment
    return data


def config_from_dict(data: Mapping[str, object]) -> EmulatorConfig:
    """Rebuild a configuration stored with :func:`config_to_dict`."""
    known = {f.name for f in fields(EmulatorConfig)}
    values = {k: v for k, v in data.items() if k in known}
    values["companies"] = tuple(values.get("companies", ()))  # type: ignore[arg-type]
    values["outcome_errors"] = {k: tuple(v) for k, v in dict(values.get("outcome_errors") or {}).items()}  # type: ignore[call-overload]
    values["dropped_columns"] = {k: tuple(v) for k, v in dict(values.get("dropped_columns") or {}).items()}  # type: ignore[call-overload]
    values["empty_projects"] = tuple(values.get("empty_projects") or ())  # type: ignore[call-overload]
    values["recurring_jobs"] = tuple(RecurringJob(**job) for job in values.get("recurring_jobs") or ())  # type: ignore[attr-defined]
    values["faults"] = tuple(fault_from_dict(f) for f in values.get("faults") or ())  # type: ignore[attr-defined]
    for key in ("projects", "extra_projects"):
        if values.get(key) is not None:
            values[key] = {name: _project(spec) for name, spec in dict(values[key]).items()}  # type: ignore[call-overload]
    return EmulatorConfig(**values)  # type: ignore[arg-type]


_DATE_STYLES = {"iso": "ISO", "en-us": "en-US"}


def _project(spec: Mapping[str, object]) -> DataProject:
    """A data project as recorded; records from before locales carry a ``date_style`` instead."""
    spec = dict(spec)
    if "date_style" in spec:
        spec["locale"] = _DATE_STYLES[str(spec.pop("date_style"))]
    return DataProject(**spec)  # type: ignore[arg-type]


def data_identity(config: EmulatorConfig) -> dict[str, object]:
    """The settings that define an environment's data; processes sharing a state directory must agree."""
    rows = {e.name: int(config.rows.get(e.name, e.default_rows)) for e in ENTITIES}
    return {
        "seed": config.seed,
        "companies": [c.upper() for c in config.companies],
        "rows": rows,
        "rates": [config.insert_rate, config.update_rate, config.delete_rate],
        "activity_interval_seconds": config.activity_interval_seconds,
    }
