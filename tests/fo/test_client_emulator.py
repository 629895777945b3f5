"""The client against the embedded F&O emulator over real HTTPS, with real msal.

Shows the whole flow (token, export, polling, fresh SAS, blob download without a bearer token) and
that REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE cannot change TLS verification.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from d365_assets.emulator import Emulator, EmulatorConfig
from d365_assets.fo import ApiError, AuthenticationError, ExecutionStatus, ExportFailedError
from d365_assets.package import DataPackage
from tests.support.catalog import catalog_entity
from tests.support.environment import client_for, credential_for

ROWS = {"GeneralJournalAccountEntries": 300, "SalesOrderLinesV2": 200}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = EmulatorConfig(
        rows=ROWS,
        outcomes={"D365A-VendorsV2": "Failed", "D365A-ReleasedProductsV2": "PartiallySucceeded"},
        outcome_errors={
            "D365A-VendorsV2": ("Vendors V2: the export failed",),
            "D365A-ReleasedProductsV2": ("Released products V2: 2 records skipped",),
        },
    )
    emulator = Emulator(state_dir=tmp_path_factory.mktemp("emulator"), config=config).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(autouse=True)
def unrelated_ca_bundles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every CA-bundle environment variable at a bundle that does not hold the emulator's CA."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, certifi.where())


@pytest.mark.parametrize(
    ("collection", "project", "company"),
    [
        ("CustomersV3", "D365A-CustomersV3", "USMF"),  # CSV-Unicode, en-US dates
        ("SalesOrderLinesV2", "D365A-SalesOrderLinesV2-Full", "DEMF"),  # CSV-Unicode, ISO dates
        ("GeneralJournalAccountEntries", "D365A-GeneralJournalAccountEntries-Full", "USMF"),  # CSV
    ],
)
def test_export_download_and_read(
    emu, tmp_path: Path, collection: str, project: str, company: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.clear_requests()
    with client_for(emu) as client:
        exported = client.export_package(data_project=project, legal_entity=company, destination_dir=tmp_path)
        secrets = client._transport.auth.secrets
    assert len(secrets) == 2  # the client secret and one token
    assert exported.status is ExecutionStatus.SUCCEEDED
    assert exported.path.stat().st_size == exported.size_bytes

    blob_requests = [r for r in emu.requests if r.origin == "blob"]
    assert blob_requests
    assert not any(r.had_authorization for r in blob_requests)
    assert all(r.had_authorization for r in emu.requests if r.origin == "fo")

    entity = catalog_entity(collection)
    schema = entity.schema
    with DataPackage.open(exported.path) as package:
        assert package.header.description == project
        frame = package.read_entity(entity.label, schema=schema)
    expected = emu.source_rows(collection, company)
    assert frame.height == len(expected) > 0
    key = schema.names[0]
    got = sorted(frame.rows(named=True), key=lambda row: str(row[key]))
    want = sorted(expected, key=lambda row: str(row[key]))
    assert [{k: row[k] for k in schema.names} for row in got] == [
        {k: row[k] for k in schema.names} for row in want
    ]

    for record in caplog.records:
        message = record.getMessage()
        assert all(secret not in message for secret in secrets)
        assert "sig=" not in message or "sig=***" in message


def test_partially_succeeded_carries_warnings(emu, tmp_path: Path) -> None:
    with client_for(emu) as client:
        exported = client.export_package(
            data_project="D365A-ReleasedProductsV2", legal_entity="USMF", destination_dir=tmp_path
        )
    assert exported.status is ExecutionStatus.PARTIALLY_SUCCEEDED
    assert exported.warnings == ["Released products V2: 2 records skipped"]


def test_failed_export(emu, tmp_path: Path) -> None:
    with client_for(emu) as client, pytest.raises(ExportFailedError) as info:
        client.export_package(data_project="D365A-VendorsV2", legal_entity="USMF", destination_dir=tmp_path)
    assert info.value.errors == ["Vendors V2: the export failed"]
    assert info.value.execution_id.startswith("D365A-VendorsV2-")


def test_unknown_project(emu, tmp_path: Path) -> None:
    with client_for(emu) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project="NoSuchProject", legal_entity="USMF")
    assert info.value.status_code == 400
    assert "data project 'NoSuchProject' for legal entity 'USMF'" in str(info.value)
    assert "data_project in the catalog" in str(info.value)


def test_wrong_secret(emu) -> None:
    emu.clear_requests()
    with (
        client_for(emu, credential=credential_for(emu, secret="not-the-secret")) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.get_exported_package_url("X")
    assert "D365_CLIENT_SECRET" in str(info.value)
    assert "not-the-secret" not in str(info.value)
    assert {r.origin for r in emu.requests} == {"authority"}


def test_tls_is_verified_without_the_ca_bundle(emu) -> None:
    # REQUESTS_CA_BUNDLE etc. point at certifi (autouse fixture); without ca_bundle the emulator's
    # self-signed CA is untrusted, and nothing in the environment can turn verification off.
    with client_for(emu, ca_bundle=None) as client, pytest.raises(AuthenticationError) as info:
        client.get_exported_package_url("X")
    assert "D365_CA_BUNDLE" in str(info.value)


def test_counts_stay_right_against_a_strict_count(emu) -> None:
    customers = catalog_entity("CustomersV3")
    with client_for(emu) as client:
        for company in ("USMF", "DEMF"):
            expected = len(emu.source_rows("CustomersV3", company))
            assert client.count_entity_rows(customers.name, company=company) == expected
            assert client.count_entity_rows("customersV3", company=company) == expected, (
                "a name F&O knows in another casing is asked again as $metadata spells it"
            )
        with pytest.raises(ApiError, match=r"no entity set of that name \(HTTP 404\).*case-sensitive"):
            client.count_entity_rows("NoSuchEntitiesV1", company="USMF")
