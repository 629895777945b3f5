"""Dagster resources: the F&O connection and the destination (the DuckDB warehouse, or the Delta lake).

Every setting is declared once, in :class:`~d365_assets.settings.Settings` (its ``D365_*`` variable and
its default). A resource field left unset (None) takes that setting when the resource is used, in the
run's own process; a field set in code, in ``defs.yaml`` or in the launchpad's run config overrides it.
The code location sets none of them, so overriding one field in the launchpad (say
``lock_timeout_seconds``) leaves every other one on its variable: Dagster replaces a resource's whole
configuration with the run config's, and a value the definitions had set would silently fall back to
its default (a relative ``data/packages``, where the next refresh would never find a failed load's
export). Secrets are never configuration values: the client secret comes from ``D365_CLIENT_SECRET``, the
lake's key or SAS from ``D365_LAKE_ACCOUNT_KEY`` or ``D365_LAKE_SAS_TOKEN``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from d365_assets.fo import ClientCertificateCredential, ClientSecretCredential, Credential, D365Client
from d365_assets.lake import DeltaLake
from d365_assets.loading import DEFAULT_MAX_REMOVED_SHARE, Destination, LoadGuard
from d365_assets.settings import Settings
from d365_assets.spool import PackageSpool
from d365_assets.warehouse import Warehouse

__all__ = ["D365Resource", "WarehouseResource", "resources_from_settings"]

EMULATOR_POLL_INTERVAL = 0.1
"""First status-poll interval against the embedded emulator, whose executions finish in about a second."""


def _over_environment(overrides: Mapping[str, object]) -> Settings:
    """The ``D365_*`` settings of this process, with the fields a resource sets explicitly over them."""
    given = {name: value for name, value in overrides.items() if value is not None}
    return dataclasses.replace(Settings.from_env(), **given)


class D365Resource(dg.ConfigurableResource):
    """Connection to a Dynamics 365 F&O environment's DMF package API.

    Unset fields take their ``D365_*`` variable (see the module docstring); with no environment URL at
    all, the embedded F&O emulator serves.
    """

    environment_url: str | None = Field(
        default=None,
        description="F&O base URL, e.g. https://contoso.operations.dynamics.com. Unset: "
        "D365_ENVIRONMENT_URL; neither: the embedded emulator.",
    )
    tenant_id: str | None = Field(
        default=None, description="Microsoft Entra tenant id. Unset: D365_TENANT_ID."
    )
    client_id: str | None = Field(
        default=None, description="Application (client) id registered in F&O. Unset: D365_CLIENT_ID."
    )
    client_secret: str | None = Field(
        default=None,
        repr=False,
        description="Client secret. Leave unset: it is read from D365_CLIENT_SECRET when a run starts.",
    )
    client_certificate: str | None = Field(
        default=None,
        description="PEM file with the app's certificate and private key, instead of a secret. "
        "Unset: D365_CLIENT_CERTIFICATE.",
    )
    authority_host: str | None = Field(
        default=None, description="Token authority. Unset: D365_AUTHORITY_HOST, else Microsoft Entra ID."
    )
    ca_bundle: str | None = Field(
        default=None, description="Extra CA certificate (PEM) to trust. Unset: D365_CA_BUNDLE."
    )
    emulator_state_dir: str | None = Field(
        default=None,
        description="State folder of the embedded emulator (used when no URL). Unset: "
        "D365_EMULATOR_STATE_DIR, else data/emulator.",
    )
    poll_timeout_seconds: float = Field(
        default=4 * 3600.0,
        description="Longest wait for one export to finish (F&O may queue DMF batch jobs).",
    )

    def settings(self) -> Settings:
        """The connection: this resource's fields over the ``D365_*`` variables."""
        names = (
            "environment_url",
            "tenant_id",
            "client_id",
            "client_secret",
            "client_certificate",
            "authority_host",
            "ca_bundle",
            "emulator_state_dir",
        )
        return _over_environment({name: getattr(self, name) for name in names})

    @property
    def uses_emulator(self) -> bool:
        """True when the embedded emulator serves as F&O (no environment URL)."""
        return self.settings().uses_emulator

    @property
    def environment_identity(self) -> str:
        """Names the F&O environment (or emulator state) exports come from, to keep their spools apart."""
        settings = self.settings()
        return settings.environment_url or f"emulator:{settings.resolved_emulator_state_dir()}"

    def get_client(self) -> D365Client:
        """A client for the configured environment, or for the embedded emulator."""
        settings = self.settings()
        if settings.uses_emulator:
            from d365_assets.defs.backend import embedded_backend

            backend = embedded_backend(settings.resolved_emulator_state_dir())
            return D365Client(
                environment_url=backend.environment_url,
                credential=backend.credential,
                ca_bundle=backend.ca_bundle,
                poll_interval=EMULATOR_POLL_INTERVAL,
                poll_timeout=self.poll_timeout_seconds,
            )
        required = ("tenant_id", "client_id")
        missing = [f"D365_{name.upper()}" for name in required if not getattr(settings, name)]
        if not (settings.client_secret or settings.client_certificate):
            missing.append("D365_CLIENT_SECRET (or D365_CLIENT_CERTIFICATE)")
        if missing:
            raise dg.Failure(
                f"D365_ENVIRONMENT_URL is set but {', '.join(missing)} is not: set them (or a .env file), "
                f"or unset D365_ENVIRONMENT_URL to use the embedded emulator."
            )
        return D365Client(
            environment_url=settings.environment_url,
            credential=_credential(settings),
            ca_bundle=settings.ca_bundle,
            poll_timeout=self.poll_timeout_seconds,
        )


def _credential(settings: Settings) -> Credential:
    if settings.client_certificate:
        return ClientCertificateCredential(
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            certificate_path=settings.client_certificate,
            authority_host=settings.authority_host,
        )
    return ClientSecretCredential(
        tenant_id=settings.tenant_id,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        authority_host=settings.authority_host,
    )


class WarehouseResource(dg.ConfigurableResource):
    """Where the entity tables are loaded (DuckDB by default, or Delta tables: ``destination``), and the
    folder of exports not loaded yet.

    Unset fields take their ``D365_*`` variable (see the module docstring).
    """

    database: str | None = Field(
        default=None,
        description="DuckDB file path, or a connection string such as md:analytics. Unset: "
        "D365_DUCKDB_PATH, else data/warehouse.duckdb.",
    )
    destination: str | None = Field(
        default=None,
        description="duckdb (the database above) or delta (Delta tables under lake_uri). Unset: "
        "D365_DESTINATION, else duckdb.",
    )
    lake_uri: str | None = Field(
        default=None,
        description="The lake for destination delta: az://<container>/<path>, abfss://..., or a folder. "
        "Unset: D365_LAKE_URI. Credentials come from D365_LAKE_* variables only.",
    )
    package_dir: str | None = Field(
        default=None,
        description="Downloaded packages wait here until loaded; a failed load's stays for the next run. "
        "Unset: D365_PACKAGE_DIR, else data/packages.",
    )
    lock_timeout_seconds: float = Field(
        default=300.0, description="How long a load waits while another process holds the DuckDB file."
    )
    max_removed_share: float = Field(
        default=DEFAULT_MAX_REMOVED_SHARE,
        ge=0.0,
        le=1.0,
        description=(
            "A full load that would remove more than this share of a company's rows is held back "
            "(1.0: never); accept one with the run tag d365/held_load=accept."
        ),
    )

    def settings(self) -> Settings:
        """Where the warehouse and the packages are: these fields over the ``D365_*`` variables."""
        given = {
            "duckdb_path": self.database,
            "package_dir": self.package_dir,
            "destination": self.destination,
            "lake_uri": self.lake_uri,
        }
        return _over_environment(given)

    @property
    def target(self) -> str:
        """Where loads land: the DuckDB file (absolute) or connection string, or the lake's root URI."""
        return self.get_warehouse().identity

    def get_warehouse(self) -> Destination:
        """The destination loads go to: the DuckDB :class:`Warehouse`, or the :class:`DeltaLake`."""
        settings = self.settings()
        if settings.destination == "delta":
            return DeltaLake(settings.lake_config())
        return Warehouse(settings.resolved_duckdb_path(), lock_timeout=self.lock_timeout_seconds)

    def get_guard(self, *, accept_removal: bool = False) -> LoadGuard:
        """The load guard: this resource's share, accepted beyond it for one run when asked."""
        return LoadGuard(max_removed_share=self.max_removed_share, accept_removal=accept_removal)

    def get_spool(self, *, environment: str) -> PackageSpool:
        """The exports from ``environment`` not loaded into this database yet."""
        settings = self.settings()
        return PackageSpool(settings.resolved_package_dir(), scope=f"{environment} -> {self.target}")


def resources_from_settings(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The ``d365`` and ``warehouse`` resources.

    Without ``settings``, every field is left unset, so each run reads the ``D365_*`` variables (and a
    launchpad override of one field keeps all others). With ``settings``, its values are set on the
    resources, the client secret aside: that one is always read from ``D365_CLIENT_SECRET``.
    """
    if settings is None:
        return {"d365": D365Resource(), "warehouse": WarehouseResource()}
    d365 = D365Resource(
        environment_url=settings.environment_url,
        tenant_id=settings.tenant_id,
        client_id=settings.client_id,
        client_certificate=settings.client_certificate,
        authority_host=settings.authority_host,
        ca_bundle=settings.ca_bundle,
        emulator_state_dir=settings.resolved_emulator_state_dir(),
    )
    warehouse = WarehouseResource(
        database=settings.resolved_duckdb_path(),
        package_dir=settings.resolved_package_dir(),
        destination=settings.destination,
        lake_uri=settings.lake_uri,
    )
    return {"d365": d365, "warehouse": warehouse}
