"""Emulator test helpers: a small, fast configuration, a minimal DMF client over httpx, and an
independent reader of package data files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import ssl
import time
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path
from types import TracebackType

import httpx

from d365_assets.emulator import Emulator, EmulatorConfig
from tests.support.catalog import shipped_entry
from tests.support.environment import QUICK_LIFECYCLE

ACTION = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."

SMALL_ROWS = {
    "CustomersV3": 60,
    "VendorsV2": 40,
    "ReleasedProductsV2": 50,
    "SalesOrderHeadersV2": 200,
    "SalesOrderLinesV2": 400,
    "PurchaseOrderHeadersV2": 100,
    "PurchaseOrderLinesV2": 200,
    "MainAccounts": 60,
    "GeneralJournalAccountEntries": 1000,
}


def small_config(**overrides: object) -> EmulatorConfig:
    """A quick emulator configuration for tests; keyword arguments override fields."""
    fields: dict[str, object] = {"rows": SMALL_ROWS, **QUICK_LIFECYCLE, **overrides}
    return EmulatorConfig(**fields)  # type: ignore[arg-type]


def ssl_context(ca_bundle: Path) -> ssl.SSLContext:
    """A verifying TLS context that trusts only the emulator's CA."""
    return ssl.create_default_context(cafile=str(ca_bundle))


class FoClient:
    """Drives the emulator's three origins the way a DMF client does."""

    def __init__(self, emu: Emulator | None = None, **origins: str) -> None:
        if emu is not None:
            origins = {
                "environment_url": emu.environment_url,
                "authority_host": emu.authority_host,
                "tenant_id": emu.tenant_id,
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
                "ca_bundle": str(emu.ca_bundle),
            }
        self.o = origins
        self.http = httpx.Client(verify=ssl_context(Path(origins["ca_bundle"])), timeout=30, trust_env=False)
        self._token: str | None = None

    def __enter__(self) -> FoClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.http.close()

    def token_response(self, *, scope: str | None = None, secret: str | None = None) -> httpx.Response:
        """POST the client-credentials form to the v2 token endpoint."""
        return self.http.post(
            f"{self.o['authority_host']}/{self.o['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.o["client_id"],
                "client_secret": secret if secret is not None else self.o["client_secret"],
                "scope": scope if scope is not None else f"{self.o['environment_url']}/.default",
            },
        )

    def token(self) -> str:
        """A (cached) access token for the environment."""
        if self._token is None:
            response = self.token_response()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def action(self, name: str, body: object, *, token: str | None = None) -> httpx.Response:
        """POST a DMF action."""
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return self.http.post(f"{self.o['environment_url']}{ACTION}{name}", json=body, headers=headers)

    def value(self, name: str, body: object) -> str:
        """POST a DMF action and return its flat ``value``, asserting success."""
        response = self.action(name, body)
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def export(self, project: str, company: str, *, execution_id: str | None = None) -> str:
        """Start ExportToPackage with a unique execution id; returns it."""
        execution_id = execution_id or f"{project}-{uuid.uuid4()}"
        body = {
            "definitionGroupId": project,
            "packageName": execution_id,
            "executionId": execution_id,
            "reExecute": False,
            "legalEntityId": company,
        }
        assert self.value("ExportToPackage", body) == execution_id
        return execution_id

    def wait_status(self, execution_id: str, *, timeout: float = 20) -> str:
        """Poll GetExecutionSummaryStatus until a terminal status (not-found counts as pending)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.action("GetExecutionSummaryStatus", {"executionId": execution_id})
            if response.status_code == 200 and response.json()["value"] not in ("NotRun", "Executing"):
                return response.json()["value"]
            assert response.status_code in (200, 400), response.text
            time.sleep(0.05)
        raise AssertionError(f"execution {execution_id} did not finish")

    def wait_url(self, execution_id: str, *, timeout: float = 20) -> str:
        """Poll GetExportedPackageUrl until non-empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = self.value("GetExportedPackageUrl", {"executionId": execution_id})
            if url:
                return url
            time.sleep(0.05)
        raise AssertionError(f"no package URL for {execution_id}")

    def download(self, url: str) -> bytes:
        """GET the SAS URL without any bearer token."""
        response = self.http.get(url)
        assert response.status_code == 200, response.text
        return response.content

    def export_package(self, project: str, company: str) -> tuple[str, bytes]:
        """Export, wait, download: (execution id, zip bytes)."""
        execution_id = self.export(project, company)
        assert self.wait_status(execution_id) == "Succeeded"
        return execution_id, self.download(self.wait_url(execution_id))


# -- independent package reading ---------------------------------------------------------------

_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$")
_DAY_FIRST = re.compile(r"^(\d{2})([/.])(\d{2})\2(\d{4}) (\d{2}):(\d{2}):(\d{2})$")
_DECIMAL = re.compile(r"^-?\d+\.\d{6}$")
_GERMAN_DECIMAL = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d{6}$")


def _parse_datetime(text: str, locale: str) -> dt.datetime:
    match = _US.match(text) if locale in ("en-US", "") else None
    if match is not None:
        month, day, year, hour, minute, second, half = match.groups()
        h = int(hour) % 12 + (12 if half == "PM" else 0)
        return dt.datetime(int(year), int(month), int(day), h, int(minute), int(second))
    match = _DAY_FIRST.match(text) if locale in ("en-GB", "de-DE") else None
    if match is not None:
        day, separator, month, year, hour, minute, second = match.groups()
        assert separator == ("/" if locale == "en-GB" else "."), text
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    assert locale in ("ISO", ""), text
    return dt.datetime.fromisoformat(text)


def parse_value(kind: str, text: str, locale: str = "") -> object:
    """Parse one data-file field the way a loader would (1900-01-01 means no date).

    ``locale``: the data project's (``ISO``, ``en-US``, ``en-GB``, ``de-DE``); ``""`` takes ISO or en-US.
    """
    if kind in ("string", "enum"):
        return text
    if kind == "noyes":
        assert text in ("Yes", "No"), text
        return text == "Yes"
    if kind == "integer":
        return int(text)
    if kind == "decimal" and locale == "de-DE":
        assert _GERMAN_DECIMAL.match(text), text
        return Decimal(text.replace(".", "").replace(",", "."))
    if kind == "decimal":
        assert _DECIMAL.match(text), text
        return Decimal(text)
    stamp = _parse_datetime(text, locale)
    if stamp.date() == dt.date(1900, 1, 1):
        return None
    if kind == "date":
        assert stamp.time() == dt.time(0), text
        return stamp.date()
    return stamp


def read_package(data: bytes) -> tuple[zipfile.ZipFile, dict[str, bytes]]:
    """Open a package zip; returns the archive and its members' bytes."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    return archive, {name: archive.read(name) for name in archive.namelist()}


def data_rows(raw: bytes, *, encoding: str, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    """Decode a data file (BOM checked by the caller) into header and rows with stdlib csv."""
    text = raw.decode(encoding)
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text[1:], newline=""), delimiter=delimiter)
    rows = list(reader)
    return rows[0], rows[1:]


def typed_rows(
    entity: str, header: list[str], rows: list[list[str]], *, locale: str = ""
) -> list[dict[str, object]]:
    """Rows as typed dicts, using the catalog's column types and the data project's locale."""
    kinds = shipped_entry(entity)["columns"]
    return [
        {name: parse_value(kinds[name], value, locale) for name, value in zip(header, row, strict=True)}
        for row in rows
    ]


def key_of(entity: str, row: dict[str, object]) -> tuple[object, ...]:
    """The catalog natural key of a row."""
    return tuple(row[k] for k in shipped_entry(entity)["natural_key"])
