"""The trust boundary against the emulator over real HTTPS with real msal.

HTTPS only (environment, authority, package URL), execution ids that cannot leave the package
folder, downloads checked against the blob's MD5, and advice that names what was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, EmulatorConfig, Fault
from d365_assets.fo import (
    ApiError,
    ClientSecretCredential,
    InsecureUrlError,
    PackageDownloadError,
    UnsafeExecutionIdError,
)
from tests.support.environment import QUICK_LIFECYCLE, client_for

from .faultkit import assert_rows, count, within

PROJECT, COLLECTION, COMPANY = "D365A-CustomersV3", "CustomersV3", "USMF"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = EmulatorConfig(rows={COLLECTION: 60}, **QUICK_LIFECYCLE)  # type: ignore[arg-type]
    with Emulator(tmp_path_factory.mktemp("trust-emulator"), config) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh(emu: Emulator) -> Iterator[None]:
    emu.clear_faults()
    emu.clear_requests()
    yield
    emu.clear_faults()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# -- HTTPS only ------------------------------------------------------------------------------


def test_an_http_environment_gets_nothing(emu: Emulator) -> None:
    http_url = emu.environment_url.replace("https://", "http://")
    with pytest.raises(InsecureUrlError, match="D365_ENVIRONMENT_URL") as info:
        client_for(emu, environment_url=http_url)
    assert http_url in str(info.value)
    assert emu.requests == []  # no token asked for, none sent


def test_an_http_authority_gets_nothing(emu: Emulator) -> None:
    with pytest.raises(InsecureUrlError, match="D365_AUTHORITY_HOST"):
        ClientSecretCredential(
            emu.tenant_id,
            emu.client_id,
            emu.client_secret,
            authority_host=emu.authority_host.replace("https://", "http://"),
        )
    assert emu.requests == []


def test_an_http_package_url_is_never_downloaded(
    emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.set_faults(Fault("http_package_url"))
    with within(6), client_for(emu) as client, pytest.raises(PackageDownloadError) as info:
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    text = str(info.value)
    assert f"{emu.blob_host.replace('https://', 'http://')}/dmf/" in text
    assert info.value.execution_id in text
    assert "sig=" not in text
    assert "?" not in text
    assert count(emu, origin="blob") == 0
    assert _files(tmp_path) == []
    assert not any("sig=" in r.getMessage() and "sig=***" not in r.getMessage() for r in caplog.records)


# -- execution ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("answered", ["../../../../x", ""])  # "": F&O's own "ExportPackage-<date time>"
def test_an_unsafe_execution_id_from_fo_writes_nothing(emu: Emulator, tmp_path: Path, answered: str) -> None:
    emu.set_faults(Fault("foreign_execution_id", execution_id=answered))
    packages = tmp_path / "a" / "b" / "c" / "d" / "packages"
    with within(6), client_for(emu) as client, pytest.raises(UnsafeExecutionIdError) as info:
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=packages)
    assert info.value.execution_id.startswith(answered or "ExportPackage-")
    assert "nothing was written" in str(info.value)
    assert count(emu, origin="fo", contains="GetExecutionSummaryStatus") == 0
    assert count(emu, origin="blob") == 0
    assert _files(tmp_path) == []
    assert not (tmp_path / "a" / "x.zip").exists()


def test_a_safe_foreign_execution_id_is_followed(emu: Emulator, tmp_path: Path) -> None:
    guid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    emu.set_faults(Fault("foreign_execution_id", execution_id=guid))
    with within(6), client_for(emu) as client:
        exported = client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    assert exported.path == tmp_path / f"{guid}.zip"
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == 60


# -- package integrity -----------------------------------------------------------------------


def test_a_corrupted_download_is_downloaded_again(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("blob_corrupt"))
    with within(6), client_for(emu) as client:
        exported = client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    assert count(emu, origin="blob", method="GET") == 2
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == 60
    assert _files(tmp_path) == [exported.path]


def test_corruption_that_persists_is_a_download_error(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("blob_corrupt", count=-1, after_bytes=5000))
    with within(8), client_for(emu) as client, pytest.raises(PackageDownloadError) as info:
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    text = str(info.value)
    assert info.value.execution_id in text
    assert "MD5" in text
    assert "run the export again" in text
    assert "sig=" not in text
    assert _files(tmp_path) == []  # neither <id>.zip nor <id>.zip.part


# -- advice ----------------------------------------------------------------------------------


def test_an_unknown_company_is_named_with_the_data_project(emu: Emulator) -> None:
    """F&O words an unknown company like an unknown project: the advice names both, as sent."""
    with client_for(emu) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project=PROJECT, legal_entity="ZZZZ")
    text = str(info.value)
    assert info.value.status_code == 400
    assert f"data project {PROJECT!r} for legal entity 'ZZZZ'" in text
    assert "the catalog's companies" in text
    assert "data_project in the catalog" in text
