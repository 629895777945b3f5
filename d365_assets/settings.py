"""Configuration from ``D365_*`` environment variables (a ``.env`` file works too under ``dagster dev``).

With ``D365_ENVIRONMENT_URL`` unset, the code location runs against the embedded F&O emulator. An
environment URL or authority host that is not ``https://`` fails here, when the definitions load,
with :class:`~d365_assets.fo.InsecureUrlError` naming the variable to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from d365_assets.errors import D365AssetsError
from d365_assets.fo import DEFAULT_AUTHORITY_HOST, normalize_environment_url, require_https_authority
from d365_assets.lake import DEFAULT_RETENTION_HOURS, LakeConfig
from d365_assets.warehouse import is_local_file

__all__ = ["DEFAULT_AUTHORITY_HOST", "SCHEDULE_STATES", "Settings", "SettingsError"]

DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_EMULATOR_STATE = "data/emulator"
DEFAULT_PACKAGE_DIR = "data/packages"
SCHEDULE_STATES = ("running", "stopped")
"""Values of ``D365_SCHEDULES``: how the schedules and the freshness sensor start."""
DESTINATIONS = ("duckdb", "delta")
"""Values of ``D365_DESTINATION``: the DuckDB warehouse (default) or Delta tables under ``D365_LAKE_URI``."""


class SettingsError(D365AssetsError):
    """A ``D365_*`` variable has a value the code location does not understand."""


@dataclass(frozen=True)
class Settings:
    """Where F&O is, how to authenticate, and where the catalog and the warehouse are."""

    environment_url: str | None = None
    """F&O base URL, e.g. ``https://contoso.operations.dynamics.com``; None = embedded emulator."""
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_certificate: str | None = None
    """PEM file with the app's certificate and private key; used instead of a client secret when set."""
    authority_host: str = DEFAULT_AUTHORITY_HOST
    ca_bundle: str | None = None
    """An extra CA certificate (PEM) to trust besides the system store."""
    catalog_path: str | None = None
    """Entity catalog YAML; None = the shipped catalog."""
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    """DuckDB database: a file path, or any DuckDB connection string such as ``md:analytics``."""
    emulator_state_dir: str = DEFAULT_EMULATOR_STATE
    """Where the embedded emulator keeps its state (CA, credentials, executions, packages)."""
    package_dir: str = DEFAULT_PACKAGE_DIR
    """Where downloaded packages wait to be loaded; a failed load's package waits for the next run."""
    schedules: str | None = None
    """How the schedules (and the freshness sensor) start: ``running`` or ``stopped``; None = running
    against the embedded emulator, stopped against a real environment until switched on."""
    destination: str = "duckdb"
    """Where entity tables are loaded: ``duckdb`` (the warehouse file) or ``delta`` (the lake)."""
    lake_uri: str | None = None
    """The lake: ``az://<container>/<path>``, ``abfss://<container>@<account>.dfs.core.windows.net/<path>``
    or a local folder; one Delta table per entity under it."""
    lake_account_name: str | None = None
    lake_account_key: str | None = field(default=None, repr=False)
    """The storage account key (secret: read from ``D365_LAKE_ACCOUNT_KEY`` only)."""
    lake_sas_token: str | None = field(default=None, repr=False)
    """A SAS token instead of the key (secret: read from ``D365_LAKE_SAS_TOKEN`` only)."""
    lake_azurite_url: str | None = None
    """``https://127.0.0.1:<port>`` of an Azurite blob service standing in for Azure storage."""
    lake_retention_hours: int = DEFAULT_RETENTION_HOURS
    """Table maintenance vacuums files that no version of the last this many hours reads."""

    def __post_init__(self) -> None:
        """Refuse a non-HTTPS environment or authority at once, before any token is asked for or sent."""
        if self.environment_url:
            normalize_environment_url(self.environment_url)
        require_https_authority(self.authority_host)
        if self.schedules is not None and self.schedules not in SCHEDULE_STATES:
            raise SettingsError(
                f"D365_SCHEDULES={self.schedules!r} is not understood: set it to running (schedules start "
                f"at once) or stopped (switch each on in the UI), or unset it (running against the emulator, "
                f"stopped against a real environment)"
            )
        if self.destination not in DESTINATIONS:
            raise SettingsError(
                f"D365_DESTINATION={self.destination!r} is not understood: set it to duckdb (the default, "
                f"one DuckDB file) or delta (Delta tables under D365_LAKE_URI)"
            )
        if self.destination == "delta":
            self.lake_config()

    def lake_config(self) -> LakeConfig:
        """The lake's location and credentials (``D365_DESTINATION=delta``); refuses what cannot be used."""
        if not self.lake_uri:
            raise SettingsError(
                "D365_DESTINATION=delta needs D365_LAKE_URI: az://<container>/<path>, "
                "abfss://<container>@<account>.dfs.core.windows.net/<path>, or a local folder"
            )
        return LakeConfig(
            uri=self.lake_uri,
            account_name=self.lake_account_name,
            account_key=self.lake_account_key,
            sas_token=self.lake_sas_token,
            azurite_url=self.lake_azurite_url,
        )

    @property
    def uses_emulator(self) -> bool:
        """True when no F&O environment is configured, so the embedded emulator serves as F&O."""
        return not self.environment_url

    @property
    def schedules_running(self) -> bool:
        """Whether schedules and the freshness sensor start running (see :attr:`schedules`)."""
        return self.uses_emulator if self.schedules is None else self.schedules == "running"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``D365_*`` variables; empty values count as unset."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            environment_url=get("D365_ENVIRONMENT_URL"),
            tenant_id=get("D365_TENANT_ID"),
            client_id=get("D365_CLIENT_ID"),
            client_secret=get("D365_CLIENT_SECRET"),
            client_certificate=get("D365_CLIENT_CERTIFICATE"),
            authority_host=get("D365_AUTHORITY_HOST") or DEFAULT_AUTHORITY_HOST,
            ca_bundle=get("D365_CA_BUNDLE"),
            catalog_path=get("D365_CATALOG"),
            duckdb_path=get("D365_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH,
            emulator_state_dir=get("D365_EMULATOR_STATE_DIR") or DEFAULT_EMULATOR_STATE,
            package_dir=get("D365_PACKAGE_DIR") or DEFAULT_PACKAGE_DIR,
            schedules=(get("D365_SCHEDULES") or "").lower() or None,
            destination=(get("D365_DESTINATION") or "duckdb").lower(),
            lake_uri=get("D365_LAKE_URI"),
            lake_account_name=get("D365_LAKE_ACCOUNT_NAME"),
            lake_account_key=get("D365_LAKE_ACCOUNT_KEY"),
            lake_sas_token=get("D365_LAKE_SAS_TOKEN"),
            lake_azurite_url=get("D365_LAKE_AZURITE_URL"),
            lake_retention_hours=_hours(get("D365_LAKE_RETENTION_HOURS")),
        )

    def resolved_duckdb_path(self) -> str:
        """The DuckDB target: connection strings (``md:...``) as given, file paths made absolute."""
        if not is_local_file(self.duckdb_path):
            return self.duckdb_path
        return str(Path(self.duckdb_path).expanduser().resolve())

    def resolved_package_dir(self) -> str:
        """The package folder, absolute."""
        return str(Path(self.package_dir).expanduser().resolve())

    def resolved_emulator_state_dir(self) -> str:
        """The embedded emulator's state folder, absolute."""
        return str(Path(self.emulator_state_dir).expanduser().resolve())


def _hours(value: str | None) -> int:
    """``D365_LAKE_RETENTION_HOURS`` as whole hours (unset: Delta's 7 days)."""
    if value is None:
        return DEFAULT_RETENTION_HOURS
    if not value.isdigit():
        raise SettingsError(f"D365_LAKE_RETENTION_HOURS={value!r} must be a whole number of hours, e.g. 168")
    return int(value)
