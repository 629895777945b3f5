"""An emulator for a test, and the product pointed at it.

Two ways to point the product at a running :class:`~d365_assets.emulator.Emulator`:

- as the embedded backend (no ``D365_ENVIRONMENT_URL``): :func:`embedded_variables`,
  :func:`embedded_settings`;
- addressed as a real F&O environment (its URL, tenant, client id, secret or certificate and CA):
  :func:`real_environment_variables`, :func:`as_real_environment` (settings, and the ``D365_*``
  variables the Dagster resource reads), :func:`credential_for` and :func:`client_for` (the F&O client
  itself, polling and retrying quickly).

:func:`process_environment` hands either set of variables to a child process (a Dagster run, a demo,
`dagster dev`).

The benchmark (``bench/ingest.py``) uses this module too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d365_assets.emulator import Emulator
from d365_assets.fo import (
    ClientCertificateCredential,
    ClientSecretCredential,
    Credential,
    D365Client,
    RetryPolicy,
)
from d365_assets.settings import Settings

if TYPE_CHECKING:
    import pytest

__all__ = [
    "QUICK_LIFECYCLE",
    "QUICK_POLLING",
    "QUICK_RETRY",
    "TEST_ROWS",
    "as_real_environment",
    "client_for",
    "credential_for",
    "embedded_settings",
    "embedded_variables",
    "process_environment",
    "real_environment_variables",
]

TEST_ROWS = {"GeneralJournalAccountEntries": 1500, "SalesOrderLinesV2": 400, "PurchaseOrderLinesV2": 200}
"""Small but non-trivial row counts: they keep the suite fast on 2 cores."""

QUICK_LIFECYCLE = {
    "not_visible_seconds": 0.05,
    "not_run_seconds": 0.05,
    "executing_seconds": 0.05,
    "package_url_delay_seconds": 0.05,
}
"""An execution lifecycle of a fraction of a second (``EmulatorConfig`` fields)."""

QUICK_POLLING: dict[str, float] = {
    "poll_interval": 0.05,
    "max_poll_interval": 0.2,
    "poll_timeout": 20.0,
    "not_found_grace": 10.0,
    "url_timeout": 10.0,
}
"""Client options that follow an emulator's quick lifecycle closely and give up within seconds."""

QUICK_RETRY = RetryPolicy(max_attempts=6, max_elapsed=15.0, initial_backoff=0.05, max_backoff=0.2)
"""Retries that back off in tenths of a second instead of seconds."""


def embedded_variables(
    emulator: Emulator | str | Path, folder: Path, *, catalog: Path | None = None
) -> dict[str, str]:
    """The ``D365_*`` variables of the embedded backend (no F&O environment) on ``emulator``'s state.

    ``emulator`` is an :class:`Emulator` or its state folder. The warehouse is
    ``folder/warehouse.duckdb`` and the package spool ``folder/packages``.
    """
    state_dir = emulator.state_dir if isinstance(emulator, Emulator) else emulator
    variables = {
        "D365_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "D365_PACKAGE_DIR": str(folder / "packages"),
        "D365_EMULATOR_STATE_DIR": str(state_dir),
    }
    if catalog is not None:
        variables["D365_CATALOG"] = str(catalog)
    return variables


def embedded_settings(
    emulator: Emulator | str | Path, folder: Path, *, catalog: Path | None = None
) -> Settings:
    """Settings of the embedded backend, from :func:`embedded_variables`."""
    return Settings.from_env(embedded_variables(emulator, folder, catalog=catalog))


def real_environment_variables(
    emulator: Emulator, folder: Path, *, certificate: bool = False, on_premises: bool = False
) -> dict[str, str]:
    """The ``D365_*`` variables of a real F&O environment, pointed at ``emulator``.

    The app authenticates with its client secret, or with its certificate when ``certificate``. The
    warehouse and the spool live in ``folder`` as in :func:`embedded_settings`; the embedded emulator's
    state folder is named ``no-embedded-emulator`` there, so a test can show that none started.
    ``on_premises``: F&O under ``/namespaces/AXSF`` and AD FS as the authority (tenant ``adfs``).
    """
    variables = {
        **embedded_variables(folder / "no-embedded-emulator", folder),
        "D365_ENVIRONMENT_URL": emulator.environment_url + ("/namespaces/AXSF" if on_premises else ""),
        "D365_AUTHORITY_HOST": emulator.authority_host,
        "D365_TENANT_ID": "adfs" if on_premises else emulator.tenant_id,
        "D365_CLIENT_ID": emulator.client_id,
        "D365_CA_BUNDLE": str(emulator.ca_bundle),
    }
    if certificate:
        variables["D365_CLIENT_CERTIFICATE"] = str(emulator.client_certificate)
    else:
        variables["D365_CLIENT_SECRET"] = emulator.client_secret
    return variables


def as_real_environment(
    emulator: Emulator,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    certificate: bool = False,
    on_premises: bool = False,
) -> Settings:
    """Settings that address ``emulator`` as a real F&O environment, read from the same variables the
    Dagster resource reads (set here for the test's duration; other ``D365_*`` variables are unset)."""
    variables = real_environment_variables(emulator, folder, certificate=certificate, on_premises=on_premises)
    for name in [name for name in os.environ if name.startswith("D365_")]:
        monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env(variables)


def process_environment(variables: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The environment of a child process: this one's without its ``D365_*`` variables, then
    ``variables`` (from :func:`embedded_variables` or :func:`real_environment_variables`) and ``extra``."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("D365_")}
    return {**inherited, **variables, **extra}


def credential_for(
    emulator: Emulator, *, secret: str | None = None, certificate: Path | None = None
) -> Credential:
    """A credential of the emulator's app registration at its authority.

    Its client secret (or ``secret``, say a wrong one), or the certificate PEM ``certificate`` (the
    registered one is ``emulator.client_certificate``).
    """
    if certificate is not None:
        return ClientCertificateCredential(
            emulator.tenant_id, emulator.client_id, certificate, authority_host=emulator.authority_host
        )
    return ClientSecretCredential(
        emulator.tenant_id,
        emulator.client_id,
        emulator.client_secret if secret is None else secret,
        authority_host=emulator.authority_host,
    )


def client_for(emulator: Emulator, *, credential: Credential | None = None, **options: Any) -> D365Client:
    """A real client (real msal, real HTTPS) of ``emulator`` that polls and retries quickly.

    ``options`` are ``D365Client`` arguments that replace these (``ca_bundle=None``, a slower
    ``poll_timeout``, transports, ...).
    """
    arguments: dict[str, Any] = {
        "environment_url": emulator.environment_url,
        "credential": credential or credential_for(emulator),
        "ca_bundle": emulator.ca_bundle,
        **QUICK_POLLING,
        "retry": QUICK_RETRY,
    }
    arguments.update(options)
    return D365Client(**arguments)
