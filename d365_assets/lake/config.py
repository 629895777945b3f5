"""Where the lake is and how to reach it: a table URI per entity, storage options, secrets kept out of text.

Three kinds of location: Azure storage (``az://<container>/<path>`` or
``abfss://<container>@<account>.dfs.core.windows.net/<path>``), Azurite (an Azure URI plus the
emulator's HTTPS URL) and a local folder. Azure is reached over HTTPS only (delta-rs never falls
back to http; an ``http://`` Azurite URL is refused too). Credentials: the account key, or a SAS
token, or neither (then delta-rs takes a managed identity or workload identity from the machine).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from d365_assets.lake.errors import LakeConfigError

__all__ = ["AZURITE_URL_VARIABLE", "LakeConfig", "redact", "storage_failure"]

AZURITE_URL_VARIABLE = "AZURITE_BLOB_STORAGE_URL"
"""The variable delta-rs (object_store) reads Azurite's address from when ``use_emulator`` is set."""
_AZURE_SCHEMES = ("az", "abfss", "abfs", "adl", "azure")
_SIGNATURE = re.compile(r"(?i)(sig=)[^&\s\"']+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STATUS = re.compile(r"^\s*(?:↳\s*)?(\d{3} [A-Za-z ]+)$", re.MULTILINE)
_CODE = re.compile(r"<Code>([^<]+)</Code>")


def storage_failure(text: str) -> str:
    """delta-rs's error chain in one line: its first line, the HTTP status and the storage's error code."""
    text = _ANSI.sub("", text)
    parts = [text.strip().splitlines()[0] if text.strip() else "unknown error"]
    parts += _STATUS.findall(text)[:1]
    parts += [f"({code})" for code in _CODE.findall(text)[:1]]
    return " ".join(parts)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with SAS signatures and each of ``secrets`` replaced by ``***``."""
    text = _SIGNATURE.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class LakeConfig:
    """The lake's URI and credentials.

    Args:
        uri: ``az://container/path``, ``abfss://container@account.dfs.core.windows.net/path``, or a folder.
        account_name: the storage account (Azure; implied by an ``abfss://`` URI's host).
        account_key: the account's access key; or ``sas_token``; neither: the machine's managed identity.
        azurite_url: ``https://127.0.0.1:<port>`` of an Azurite blob service, for tests and local use.
        max_retries: delta-rs's retries per storage call (None: its default; 0 fails fast, for tests).
    """

    uri: str
    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    azurite_url: str | None = None
    max_retries: int | None = None

    def __post_init__(self) -> None:
        scheme = urlsplit(self.uri).scheme.lower()
        if scheme in ("http", "https"):
            raise LakeConfigError(
                f"D365_LAKE_URI={self.uri!r}: delta-rs addresses Azure storage as az://<container>/<path> "
                f"or abfss://<container>@<account>.dfs.core.windows.net/<path>, not by an {scheme} URL"
            )
        if len(scheme) > 1 and scheme not in _AZURE_SCHEMES:
            raise LakeConfigError(
                f"D365_LAKE_URI={self.uri!r}: only Azure storage (az://, abfss://) and local folders are "
                f"supported"
            )
        if self.account_key and self.sas_token:
            raise LakeConfigError(
                "both D365_LAKE_ACCOUNT_KEY and D365_LAKE_SAS_TOKEN are set: set one (or neither, for a "
                "managed identity)"
            )
        if self.azurite_url is not None:
            self._check_azurite_url(self.azurite_url)
        if self.is_azure and not self.azurite_url and not (self.account_name or "@" in self.uri):
            raise LakeConfigError(
                f"D365_LAKE_URI={self.uri!r} names no storage account: set D365_LAKE_ACCOUNT_NAME, or use "
                f"abfss://<container>@<account>.dfs.core.windows.net/<path>"
            )

    @staticmethod
    def _check_azurite_url(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise LakeConfigError(
                f"D365_LAKE_AZURITE_URL={url!r} must be https://<host>:<port>: the storage key and SAS "
                f"tokens never travel in clear text (start Azurite with --cert and --key)"
            )

    @property
    def is_azure(self) -> bool:
        """True for Azure storage (or Azurite); False for a local folder."""
        return urlsplit(self.uri).scheme.lower() in _AZURE_SCHEMES

    @property
    def root(self) -> str:
        """The lake's URI without a trailing slash (a local folder made absolute)."""
        if self.is_azure:
            return self.uri.rstrip("/")
        return str(Path(self.uri).expanduser().resolve())

    def table_uri(self, table: str) -> str:
        """The Delta table of ``table`` (a snake_case name) under the lake's root."""
        return f"{self.root}/{table}"

    def storage_options(self) -> dict[str, str]:
        """delta-rs's storage options (secrets included: never log them); sets Azurite's address variable."""
        options: dict[str, str] = {}
        if self.max_retries is not None:
            options["max_retries"] = str(self.max_retries)
        if not self.is_azure:
            return options
        if self.azurite_url:
            os.environ[AZURITE_URL_VARIABLE] = self.azurite_url.rstrip("/")
            options["use_emulator"] = "true"
        if self.account_name:
            options["account_name"] = self.account_name
        if self.account_key:
            options["account_key"] = self.account_key
        if self.sas_token:
            options["sas_token"] = self.sas_token.lstrip("?")
        return options

    def redact(self, text: str) -> str:
        """``text`` without this lake's secrets or any SAS signature."""
        return redact(text, self.account_key, self.sas_token, (self.sas_token or "").lstrip("?"))
