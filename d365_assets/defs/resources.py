"""Dagster resources: the F&O connection and the DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from d365_assets.fo import ClientCertificateCredential, ClientSecretCredential, Credential, D365Client
from d365_assets.settings import (
    DEFAULT_AUTHORITY_HOST,
    DEFAULT_DUCKDB_PATH,
    DEFAULT_EMULATOR_STATE,
    DEFAULT_PACKAGE_DIR,
    Settings,
)
from d365_assets.spool import PackageSpool
from d365_assets.warehouse import DEFAULT_MAX_REMOVED_SHARE, LoadGuard, Warehouse

__all__ = ["D365Resource", "WarehouseResource", "resources_from_settings"]

EMULATOR_POLL_INTERVAL = 0.1
"""First status-poll interval against the embedded emulator, whose executions finish in about a second."""


class D365Resource(dg.ConfigurableResource):
    """Connection to a Dynamics 365 F&O environment's DMF package API.

    Leave ``environment_url`` empty to use the embedded F&O emulator.
    """

    environment_url: str | None = Field(
        default=None,
        description="F&O base URL, e.g. https://contoso.operations.dynamics.com; empty = emulator.",
    )
    tenant_id: str | None = Field(default=None, description="Microsoft Entra tenant id (or AD FS tenant).")
    client_id: str | None = Field(default=None, description="Application (client) id registered in F&O.")
    client_secret: str | None = Field(
        default=None, repr=False, description="Client secret; pass it as dg.EnvVar (never shown in repr)."
    )
    client_certificate: str | None = Field(
        default=None, description="PEM file with the app's certificate and private key, instead of a secret."
    )
    authority_host: str = Field(default=DEFAULT_AUTHORITY_HOST, description="Token authority host.")
    ca_bundle: str | None = Field(default=None, description="Extra CA certificate (PEM) to trust.")
    emulator_state_dir: str = Field(
        default=DEFAULT_EMULATOR_STATE,
        description="State folder of the embedded emulator (used when no URL).",
    )
    poll_timeout_seconds: float = Field(
        default=4 * 3600.0,
        description="Longest wait for one export to finish (F&O may queue DMF batch jobs).",
    )

    @property
    def environment_identity(self) -> str:
        """Names the F&O environment (or emulator state) exports come from, to keep their spools apart."""
        return self.environment_url or f"emulator:{self.emulator_state_dir}"

    def get_client(self) -> D365Client:
        """A client for the configured environment, or for the embedded emulator."""
        if not self.environment_url:
            from d365_assets.defs.backend import embedded_backend

            backend = embedded_backend(self.emulator_state_dir)
            return D365Client(
                environment_url=backend.environment_url,
                credential=backend.credential,
                ca_bundle=backend.ca_bundle,
                poll_interval=EMULATOR_POLL_INTERVAL,
                poll_timeout=self.poll_timeout_seconds,
            )
        missing = [f"D365_{name.upper()}" for name in ("tenant_id", "client_id") if not getattr(self, name)]
        if not (self.client_secret or self.client_certificate):
            missing.append("D365_CLIENT_SECRET (or D365_CLIENT_CERTIFICATE)")
        if missing:
            raise dg.Failure(
                f"D365_ENVIRONMENT_URL is set but {', '.join(missing)} is not: set them (or a .env file), "
                f"or unset D365_ENVIRONMENT_URL to use the embedded emulator."
            )
        return D365Client(
            environment_url=self.environment_url,
            credential=self._credential(),
            ca_bundle=self.ca_bundle,
            poll_timeout=self.poll_timeout_seconds,
        )

    def _credential(self) -> Credential:
        if self.client_certificate:
            return ClientCertificateCredential(
                tenant_id=self.tenant_id,
                client_id=self.client_id,
                certificate_path=self.client_certificate,
                authority_host=self.authority_host,
            )
        return ClientSecretCredential(
            tenant_id=self.tenant_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            authority_host=self.authority_host,
        )


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB database the entity tables are loaded into."""

    database: str = Field(
        default=DEFAULT_DUCKDB_PATH,
        description="DuckDB file path, or a connection string such as md:analytics.",
    )
    lock_timeout_seconds: float = Field(
        default=300.0, description="How long a load waits while another process holds the DuckDB file."
    )
    package_dir: str = Field(
        default=DEFAULT_PACKAGE_DIR,
        description="Downloaded packages wait here until loaded; a failed load's stays for the next run.",
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

    def get_warehouse(self) -> Warehouse:
        """The warehouse loader for this database."""
        return Warehouse(self.database, lock_timeout=self.lock_timeout_seconds)

    def get_guard(self, *, accept_removal: bool = False) -> LoadGuard:
        """The load guard: this resource's share, accepted beyond it for one run when asked."""
        return LoadGuard(max_removed_share=self.max_removed_share, accept_removal=accept_removal)

    def get_spool(self, *, environment: str) -> PackageSpool:
        """The exports from ``environment`` not loaded into this database yet."""
        return PackageSpool(self.package_dir, scope=f"{environment} -> {self.database}")


def resources_from_settings(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources configured from ``D365_*`` variables; secrets stay environment references."""

    def env_or(name: str, value: str | None) -> dg.EnvVar | None:
        return dg.EnvVar(name) if value else None

    d365 = D365Resource(
        environment_url=env_or("D365_ENVIRONMENT_URL", settings.environment_url),
        tenant_id=env_or("D365_TENANT_ID", settings.tenant_id),
        client_id=env_or("D365_CLIENT_ID", settings.client_id),
        client_secret=env_or("D365_CLIENT_SECRET", settings.client_secret),
        client_certificate=settings.client_certificate,
        authority_host=settings.authority_host,
        ca_bundle=settings.ca_bundle,
        emulator_state_dir=str(Path(settings.emulator_state_dir).expanduser().resolve()),
    )
    warehouse = WarehouseResource(
        database=settings.resolved_duckdb_path(),
        package_dir=str(Path(settings.package_dir).expanduser().resolve()),
    )
    return {"d365": d365, "warehouse": warehouse}
