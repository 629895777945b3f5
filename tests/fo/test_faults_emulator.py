"""Every injected fault against the emulator over real HTTPS with real msal: outcome and time bound.

Each test activates its faults on a shared emulator (cleared afterwards), runs the client with small
poll and retry settings, and asserts the right rows (or the right error, carrying the execution id)
within a wall-time bound.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from d365_assets.emulator import THROTTLE_MESSAGES, Emulator, EmulatorConfig, Fault
from d365_assets.fo import (
    ApiError,
    AuthenticationError,
    ExecutionStatus,
    ExportFailedError,
    ExportTimeoutError,
    PackageDownloadError,
    RetryPolicy,
)
from tests.support.environment import QUICK_LIFECYCLE, QUICK_RETRY, client_for, credential_for

from .faultkit import assert_rows, count, within

PROJECT, COLLECTION, COMPANY = "D365A-CustomersV3", "CustomersV3", "USMF"
FAILED, PARTIAL = "D365A-VendorsV2", "D365A-ReleasedProductsV2"
ROWS = {"CustomersV3": 80, "VendorsV2": 30, "ReleasedProductsV2": 30}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = EmulatorConfig(
        rows=ROWS,
        outcomes={FAILED: "Failed", PARTIAL: "PartiallySucceeded"},
        outcome_errors={
            FAILED: ("Vendors V2: the export failed", "Vendor V-1: account missing"),
            PARTIAL: ("Released products V2: 2 records skipped",),
        },
        **QUICK_LIFECYCLE,  # type: ignore[arg-type]
    )
    with Emulator(tmp_path_factory.mktemp("faults-emulator"), config) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No faults, an empty request log, and CA-bundle variables pointing at an unrelated bundle."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, certifi.where())
    emu.clear_faults()
    emu.clear_requests()
    yield
    emu.clear_faults()


def export(emu: Emulator, tmp_path: Path, **client_options: object):
    with client_for(emu, **client_options) as client:
        return client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)


# -- throttling and unavailability -----------------------------------------------------------


def test_throttled_actions_honour_retry_after(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(
        Fault("throttle", retry_after=1, message="requests", actions=("ExportToPackage",)),
        Fault("throttle", retry_after=1, message="concurrency", actions=("GetExecutionSummaryStatus",)),
        Fault("throttle", retry_after=0, message="resources", actions=("GetExportedPackageUrl",)),
    )
    started = time.monotonic()
    with within(8):
        exported = export(emu, tmp_path)
    assert time.monotonic() - started >= 2.0  # two Retry-After: 1 waits were honoured
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]
    assert count(emu, origin="fo", contains="ExportToPackage") == 2
    assert emu.faults == []


def test_throttling_that_outlasts_the_retries_is_an_api_error(emu: Emulator) -> None:
    emu.set_faults(Fault("throttle", count=-1, retry_after=0, message="resources"))
    with within(5), client_for(emu) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
    assert info.value.status_code == 429
    assert "throttling" in str(info.value)
    assert THROTTLE_MESSAGES["resources"] in str(info.value)
    assert count(emu, origin="fo", contains="ExportToPackage") == QUICK_RETRY.max_attempts


def test_throttled_token_endpoint_is_retried_after_retry_after(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("token_throttle", count=1, retry_after=1))
    started = time.monotonic()
    with within(8):
        exported = export(emu, tmp_path)
    assert time.monotonic() - started >= 1.0
    assert exported.status is ExecutionStatus.SUCCEEDED
    assert count(emu, origin="authority", contains="/token") == 2  # msal's cache did not swallow the retry


def test_unavailable_actions_are_retried(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("unavailable", count=3, retry_after=0))
    with within(6):
        exported = export(emu, tmp_path)
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]
    assert emu.faults == []


def test_unavailable_blob_is_retried(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("blob_unavailable", count=2, retry_after=0))
    with within(6):
        exported = export(emu, tmp_path)
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]
    assert count(emu, origin="blob") == 3


def test_lost_export_response_is_retried_without_a_second_export(emu: Emulator, tmp_path: Path) -> None:
    # The answer is lost, and F&O does not show the execution yet when asked: sent once more, F&O
    # refuses the id it knows, and the client carries on with the execution once F&O shows it.
    emu.set_faults(Fault("lost_response", actions=("ExportToPackage",)), Fault("status_not_found"))
    with within(6):
        exported = export(emu, tmp_path)
    assert exported.status is ExecutionStatus.SUCCEEDED
    assert count(emu, origin="fo", contains="ExportToPackage") == 2  # the re-send met its own execution
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]


# -- polling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["status_bad_request", "status_not_found"])
def test_transient_400_on_status_is_tolerated(emu: Emulator, tmp_path: Path, kind: str) -> None:
    emu.set_faults(Fault(kind, count=4))
    with within(6):
        exported = export(emu, tmp_path)
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]
    assert count(emu, origin="fo", contains="GetExecutionSummaryStatus") >= 5


def test_lasting_not_found_ends_with_the_execution_id(emu: Emulator) -> None:
    emu.set_faults(Fault("status_not_found", count=-1))
    with within(5), client_for(emu, not_found_grace=1.0) as client:
        execution_id = client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
        with pytest.raises(ApiError) as info:
            client.wait_for_execution(execution_id)
    assert execution_id in str(info.value)
    assert "batch" in str(info.value).lower()


def test_empty_package_url_is_polled_until_published(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("empty_package_url", count=4))
    with within(6):
        exported = export(emu, tmp_path)
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]
    assert count(emu, origin="fo", contains="GetExportedPackageUrl") >= 5


def test_package_url_never_published_times_out_with_the_execution_id(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("empty_package_url", count=-1))
    with within(4), client_for(emu, url_timeout=1.0) as client, pytest.raises(ExportTimeoutError) as info:
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    assert info.value.execution_id in str(info.value)


@pytest.mark.parametrize(("kind", "status"), [("never_finish", "Executing"), ("stay_not_run", "NotRun")])
def test_execution_that_never_finishes_times_out(
    emu: Emulator, tmp_path: Path, kind: str, status: str
) -> None:
    emu.set_faults(Fault(kind, project=PROJECT))
    started = time.monotonic()
    with within(3), client_for(emu, poll_timeout=1.0) as client, pytest.raises(ExportTimeoutError) as info:
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    assert time.monotonic() - started >= 1.0
    assert info.value.execution_id.startswith(f"{PROJECT}-")
    assert info.value.execution_id in str(info.value)
    assert f"last status: {status}" in str(info.value)
    if kind == "stay_not_run":
        assert "Batch jobs" in str(info.value)


# -- outcomes --------------------------------------------------------------------------------


def test_failed_carries_the_execution_errors(emu: Emulator, tmp_path: Path) -> None:
    with within(5), client_for(emu) as client, pytest.raises(ExportFailedError) as info:
        client.export_package(data_project=FAILED, legal_entity=COMPANY, destination_dir=tmp_path)
    assert info.value.errors == ["Vendors V2: the export failed", "Vendor V-1: account missing"]
    assert info.value.status == "Failed"
    assert info.value.execution_id in str(info.value)
    assert "Vendor V-1: account missing" in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing downloaded


def test_partially_succeeded_carries_warnings_and_the_package(emu: Emulator, tmp_path: Path) -> None:
    with within(5), client_for(emu) as client:
        exported = client.export_package(data_project=PARTIAL, legal_entity=COMPANY, destination_dir=tmp_path)
    assert exported.status is ExecutionStatus.PARTIALLY_SUCCEEDED
    assert exported.warnings == ["Released products V2: 2 records skipped"]
    rows = assert_rows(emu, exported.path, "ReleasedProductsV2", COMPANY, left_out=2)
    assert rows == ROWS["ReleasedProductsV2"] - 2  # the failed records are not in the package


# -- tokens ----------------------------------------------------------------------------------


def test_revoked_token_is_renewed_once(emu: Emulator, tmp_path: Path) -> None:
    with within(6), client_for(emu) as client:
        first = client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
        assert emu.revoke_tokens() >= 1
        client.wait_for_execution(first)
        url = client.wait_for_package_url(first)
        downloaded = client.download_package(execution_id=first, destination=tmp_path / "p.zip", url=url)
    assert count(emu, origin="authority", contains="/token") == 2
    assert assert_rows(emu, downloaded.path, COLLECTION, COMPANY) == ROWS[COLLECTION]


def test_token_that_expires_early_is_renewed(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("token_expiry", seconds=0.3))
    with within(6), client_for(emu) as client:
        execution_id = client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
        time.sleep(0.4)
        assert client.wait_for_execution(execution_id) is ExecutionStatus.SUCCEEDED
    assert count(emu, origin="authority", contains="/token") == 2


def test_certificate_credential(emu: Emulator, tmp_path: Path) -> None:
    credential = credential_for(emu, certificate=emu.client_certificate)
    with within(6):
        exported = export(emu, tmp_path, credential=credential)
    assert assert_rows(emu, exported.path, COLLECTION, COMPANY) == ROWS[COLLECTION]


def test_unregistered_certificate_is_refused(emu: Emulator, tmp_path: Path) -> None:
    other_app = Emulator(tmp_path / "other-environment").client_certificate  # registered elsewhere
    credential = credential_for(emu, certificate=other_app)
    with (
        within(4),
        client_for(emu, credential=credential) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
    assert "certificate was refused" in str(info.value)
    assert count(emu, origin="fo") == 0


# -- blob ------------------------------------------------------------------------------------


def _exported_id(client) -> str:
    execution_id = client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
    client.wait_for_execution(execution_id)
    return execution_id


def test_expired_sas_gets_a_fresh_url(emu: Emulator, tmp_path: Path) -> None:
    with within(6), client_for(emu) as client:
        execution_id = _exported_id(client)
        emu.set_faults(Fault("sas_expiry", seconds=-60))
        downloaded = client.download_package(execution_id=execution_id, destination=tmp_path / "p.zip")
    assert downloaded.url_refreshes == 1
    assert assert_rows(emu, downloaded.path, COLLECTION, COMPANY) == ROWS[COLLECTION]


def test_sas_that_keeps_failing_is_a_download_error(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("sas_expiry", count=-1, seconds=-60))
    with within(6), client_for(emu) as client, pytest.raises(PackageDownloadError) as info:
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    assert info.value.execution_id in str(info.value)
    assert "clock" in str(info.value)
    assert not list(tmp_path.glob("*.part"))


def test_dropped_download_resumes_with_range(emu: Emulator, tmp_path: Path) -> None:
    with within(6), client_for(emu) as client:
        execution_id = _exported_id(client)
        emu.set_faults(Fault("blob_drop", after_bytes=1000))
        downloaded = client.download_package(execution_id=execution_id, destination=tmp_path / "p.zip")
    assert downloaded.resumes == 1
    assert assert_rows(emu, downloaded.path, COLLECTION, COMPANY) == ROWS[COLLECTION]


def test_download_that_keeps_dropping_is_a_download_error(emu: Emulator, tmp_path: Path) -> None:
    emu.set_faults(Fault("blob_drop", count=-1, after_bytes=10))
    with (
        within(8),
        client_for(emu, retry=RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.1)) as client,
        pytest.raises(PackageDownloadError) as info,
    ):
        client.export_package(data_project=PROJECT, legal_entity=COMPANY, destination_dir=tmp_path)
    assert info.value.execution_id in str(info.value)
    assert not list(tmp_path.iterdir())


# -- the network: only the configured hosts --------------------------------------------------


def test_nothing_leaves_for_other_hosts(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every DNS lookup and connection of a whole run (with a 401 and a 403 on the way) is the emulator's."""
    lookups: list[object] = []
    connections: list[object] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):  # type: ignore[no-untyped-def]
        connections.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    emu.set_faults(Fault("sas_expiry", seconds=-60), Fault("token_expiry", seconds=0.2))
    with client_for(emu) as client:
        execution_id = client.export_to_package(data_project=PROJECT, legal_entity=COMPANY)
        time.sleep(0.3)
        client.wait_for_execution(execution_id)
        client.download_package(execution_id=execution_id, destination=tmp_path / "p.zip")
    ports = {
        int(origin.rsplit(":", 1)[1]) for origin in (emu.environment_url, emu.authority_host, emu.blob_host)
    }
    assert connections
    assert {(a[0], a[1]) for a in connections} <= {("127.0.0.1", port) for port in ports}  # type: ignore[index]
    assert set(lookups) <= {"127.0.0.1", b"127.0.0.1"}
    assert {r.origin for r in emu.requests} == {"fo", "authority", "blob"}
    assert not any(r.had_authorization for r in emu.requests if r.origin == "blob")
