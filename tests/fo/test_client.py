"""Unit tests of D365Client against in-process fakes (httpx.MockTransport, real msal)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import httpx
import pytest

from d365_assets.fo import (
    ApiError,
    AuthenticationError,
    ExecutionNotFoundError,
    ExecutionStatus,
    ExportFailedError,
    ExportTimeoutError,
    PackageDownloadError,
)

from .fakes import BLOB, ENV, SECRET, SIG, FakeClock, FakeFinOps, odata_400, ok


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def actions(fake: FakeFinOps) -> list[str]:
    return [action for action, _, _ in fake.fo_calls]


def test_success_flow(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(
        statuses=["notfound", "NotRun", "Executing", "Succeeded"],
        urls=["", f"{BLOB}/dmf/p.zip?sv=1&sig={SIG}"],
    )
    with fake.client(clock) as client:
        result = client.export_package(
            data_project="D365A-CustomersV3", legal_entity="USMF", destination_dir=tmp_path
        )

    assert result.status is ExecutionStatus.SUCCEEDED
    assert re.fullmatch(r"D365A-CustomersV3-\d{8}T\d{6}-[0-9a-f]{12}", result.execution_id)
    assert result.path == tmp_path / f"{result.execution_id}.zip"
    assert result.path.read_bytes() == fake.package
    assert result.size_bytes == len(fake.package)
    assert result.warnings == []
    assert result.export_wait_seconds > 0
    assert set(result.timings) == {"export_wait", "download"}
    assert not list(tmp_path.glob("*.part"))

    action, body, headers = fake.fo_calls[0]
    assert action == "ExportToPackage"
    assert body == {
        "definitionGroupId": "D365A-CustomersV3",
        "packageName": result.execution_id,
        "executionId": result.execution_id,
        "reExecute": False,
        "legalEntityId": "USMF",
    }
    assert headers["Authorization"].startswith("Bearer ")
    assert actions(fake).count("GetExecutionSummaryStatus") == 4
    # one token for the whole flow: msal's cache is reused
    assert len(fake.tokens_issued) == 1


def test_execution_ids_are_unique(clock: FakeClock) -> None:
    fake = FakeFinOps()
    with fake.client(clock) as client:
        ids = {client.export_to_package(data_project="P", legal_entity="USMF") for _ in range(20)}
    assert len(ids) == 20


def test_polling_pauses_grow_with_the_wait_up_to_the_cap(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["NotRun"] * 50 + ["Succeeded"])  # about 6 minutes
    with fake.client(clock, poll_interval=2.0, max_poll_interval=10.0, poll_timeout=3600.0) as client:
        assert client.wait_for_execution("X") is ExecutionStatus.SUCCEEDED
    waited = [sum(clock.sleeps[:index]) for index in range(len(clock.sleeps))]
    for before, pause in zip(waited, clock.sleeps, strict=True):
        # a finished export is noticed within a tenth of the time waited (or 2 s), jitter included
        assert pause <= max(2.0, before * 0.1) * 1.2 + 1e-9
        assert pause >= min(max(2.0, before * 0.1), 10.0) * 0.8 - 1e-9
    assert max(clock.sleeps) <= 10.0  # the cap holds, jitter included
    assert clock.sleeps[-1] > 2.0 * 1.2  # and long waits are polled less often than short ones


def test_not_found_is_tolerated_within_the_grace(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["notfound", "notfound", "Succeeded"])
    with fake.client(clock, not_found_grace=60.0) as client:
        assert client.wait_for_execution("X") is ExecutionStatus.SUCCEEDED


def test_bare_bad_request_is_tolerated(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["Succeeded"])
    fake.fo_faults["GetExecutionSummaryStatus"] = [httpx.Response(400, text="Bad request")]
    with fake.client(clock) as client:
        assert client.wait_for_execution("X") is ExecutionStatus.SUCCEEDED


def test_not_found_beyond_the_grace_raises(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["notfound"])
    with fake.client(clock, not_found_grace=60.0) as client, pytest.raises(ExecutionNotFoundError) as info:
        client.wait_for_execution("EXEC-1")
    assert "EXEC-1" in str(info.value)
    assert info.value.status_code == 400
    assert 60.0 <= clock.now - 1000.0 <= 60.0 + 60.0 * 1.2


def test_partially_succeeded_returns_warnings(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(
        statuses=["PartiallySucceeded"], errors_value=json.dumps(["Row 3 rejected", "Row 9 rejected"])
    )
    with fake.client(clock) as client:
        result = client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    assert result.status is ExecutionStatus.PARTIALLY_SUCCEEDED
    assert result.warnings == ["Row 3 rejected", "Row 9 rejected"]
    assert result.path.exists()


@pytest.mark.parametrize("status", ["Failed", "Canceled", "Unknown", "SomethingNew"])
def test_failed_statuses_raise_with_errors(status: str, clock: FakeClock, tmp_path: Path) -> None:
    fake = FakeFinOps(statuses=["Executing", status], errors_value=json.dumps(["Entity Customers V3: boom"]))
    with fake.client(clock) as client, pytest.raises(ExportFailedError) as info:
        client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    error = info.value
    assert error.execution_id.startswith("P-")
    assert error.execution_id in str(error)
    assert error.errors == ["Entity Customers V3: boom"]
    assert error.status == ("Unknown" if status == "SomethingNew" else status)
    assert "boom" in str(error)
    assert "GetExportedPackageUrl" not in actions(fake)
    assert not list(tmp_path.iterdir())


def test_timeout_raises_with_execution_id(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["Executing"])
    with fake.client(clock, poll_timeout=300.0) as client, pytest.raises(ExportTimeoutError) as info:
        client.wait_for_execution("EXEC-9")
    assert info.value.execution_id == "EXEC-9"
    assert "EXEC-9" in str(info.value)
    assert clock.now - 1000.0 == pytest.approx(300.0)


def test_empty_url_then_url(clock: FakeClock) -> None:
    url = f"{BLOB}/dmf/p.zip?sig={SIG}"
    fake = FakeFinOps(urls=["", "", url])
    with fake.client(clock) as client:
        assert client.get_exported_package_url("X") == ""
        assert client.wait_for_package_url("X") == url
    assert actions(fake).count("GetExportedPackageUrl") == 3


def test_url_never_published_times_out(clock: FakeClock) -> None:
    fake = FakeFinOps(urls=[""])
    with fake.client(clock, url_timeout=30.0) as client, pytest.raises(ExportTimeoutError):
        client.wait_for_package_url("X")


def test_429_honours_retry_after(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["ExportToPackage"] = [httpx.Response(429, headers={"Retry-After": "7"})]
    with fake.client(clock) as client:
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert clock.sleeps == [7.0]
    assert actions(fake) == ["ExportToPackage", "ExportToPackage"]


def test_429_retry_after_is_capped_and_bounded(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["GetExecutionSummaryStatus"] = [
        httpx.Response(429, headers={"Retry-After": "100000"}) for _ in range(10)
    ]
    with fake.client(clock) as client, pytest.raises(ApiError) as info:
        client.get_execution_status("X")
    assert info.value.status_code == 429
    assert all(s <= 120.0 for s in clock.sleeps)
    assert actions(fake).count("GetExecutionSummaryStatus") <= 4


def test_503_is_retried(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["Succeeded"])
    fake.fo_faults["GetExecutionSummaryStatus"] = [httpx.Response(503), httpx.Response(502)]
    with fake.client(clock) as client:
        assert client.get_execution_status("X") is ExecutionStatus.SUCCEEDED
    assert len(clock.sleeps) == 2


def test_persistent_5xx_gives_up(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["GetExecutionErrors"] = [httpx.Response(500, text="oops") for _ in range(10)]
    with fake.client(clock) as client, pytest.raises(ApiError) as info:
        client.get_execution_errors("X")
    assert info.value.status_code == 500
    assert actions(fake).count("GetExecutionErrors") == 4


def test_connection_errors_are_retried(clock: FakeClock) -> None:
    fake = FakeFinOps()
    failures = [httpx.ConnectError("connection refused")]

    def flaky(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop()
        return fake.fo(request)

    with fake.client(clock, transport=httpx.MockTransport(flaky)) as client:
        assert client.export_to_package(data_project="P", legal_entity="USMF")
    assert len(clock.sleeps) == 1


def test_unreachable_fo_raises_api_error(clock: FakeClock) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    fake = FakeFinOps()
    with fake.client(clock, transport=httpx.MockTransport(down)) as client, pytest.raises(ApiError) as info:
        client.get_execution_status("X")
    assert info.value.status_code is None
    assert "D365_ENVIRONMENT_URL" in str(info.value)


def test_unknown_project_names_the_fix(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["ExportToPackage"] = [
        odata_400(
            "Exception occurred while executing action ExportToPackage on Entity "
            "DataManagementDefinitionGroup: "
            "Export to package failed for definition group: NOPE, package name: x, execution id: x"
        )
    ]
    with fake.client(clock) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project="NOPE", legal_entity="USMF")
    error = info.value
    assert error.status_code == 400
    assert error.action == "ExportToPackage"
    assert "definition group: NOPE" in error.inner_message
    advice = str(error).split("; ", 1)[1]
    assert "data project 'NOPE' for legal entity 'USMF'" in advice  # what was sent, both of it
    assert "data_project in the catalog" in advice
    assert "the catalog's companies" in advice


def test_nested_value_envelope_is_tolerated(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["GetExportedPackageUrl"] = [
        httpx.Response(200, json={"@odata.context": "x", "value": {"value": "https://blob.test/a.zip?sig=1"}})
    ]
    with fake.client(clock) as client:
        assert client.get_exported_package_url("X") == "https://blob.test/a.zip?sig=1"


def test_response_without_value_is_an_api_error(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["GetExportedPackageUrl"] = [httpx.Response(200, text="<html>login</html>")]
    with fake.client(clock) as client, pytest.raises(ApiError, match="unexpected response"):
        client.get_exported_package_url("X")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[]", []),
        ("", []),
        (json.dumps(["a", "b"]), ["a", "b"]),
        ("a plain message", ["a plain message"]),
        (json.dumps("one encoded string"), ["one encoded string"]),
        (["already", "a list"], ["already", "a list"]),
    ],
)
def test_execution_errors_shapes(value: object, expected: list[str], clock: FakeClock) -> None:
    fake = FakeFinOps(errors_value=value)
    with fake.client(clock) as client:
        assert client.get_execution_errors("X") == expected


def test_execution_status_parsing() -> None:
    assert ExecutionStatus("Succeeded") is ExecutionStatus.SUCCEEDED
    assert ExecutionStatus("partiallysucceeded") is ExecutionStatus.PARTIALLY_SUCCEEDED
    assert ExecutionStatus("Brand new value") is ExecutionStatus.UNKNOWN
    assert ExecutionStatus.NOT_RUN.is_pending
    assert not ExecutionStatus.FAILED.produced_package


# -- auth -----------------------------------------------------------------------------------------


def test_wrong_secret_names_the_setting(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.secret = "the-real-one"
    with (
        fake.client(clock, credential=_credential("wrong-secret-value")) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert "D365_CLIENT_SECRET" in str(info.value)
    assert "wrong-secret-value" not in str(info.value)
    assert not fake.fo_calls  # no request reached F&O without a token


def test_401_refreshes_the_token_once(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["ExportToPackage"] = [httpx.Response(401)]
    with fake.client(clock) as client:
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert len(fake.tokens_issued) == 2
    first, second = (headers["Authorization"] for _, _, headers in fake.fo_calls)
    assert first != second


def test_persistent_401_says_register_the_app(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["ExportToPackage"] = [httpx.Response(401), httpx.Response(401)]
    with fake.client(clock) as client, pytest.raises(AuthenticationError) as info:
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert "System administration > Setup > Microsoft Entra applications" in str(info.value)
    assert len(fake.tokens_issued) == 2


def test_scope_and_on_premises_namespace(clock: FakeClock) -> None:
    fake = FakeFinOps()
    with fake.client(clock, environment_url="https://fo.test/namespaces/AXSF/") as client:
        assert client.environment_url == "https://fo.test/namespaces/AXSF"
        client.get_exported_package_url("X")
    token_request = next(r for r in fake.authority_requests if r.method == "POST")
    assert "scope=https%3A%2F%2Ffo.test%2F.default" in token_request.content.decode()


def test_on_premises_actions_go_under_the_namespace(clock: FakeClock) -> None:
    seen: list[str] = []
    fake = FakeFinOps()

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return fake.fo(request)

    with fake.client(
        clock, environment_url="https://fo.test/namespaces/AXSF", transport=httpx.MockTransport(record)
    ) as client:
        client.get_exported_package_url("X")
    assert seen == [
        "/namespaces/AXSF/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.GetExportedPackageUrl"
    ]


def test_credential_repr_hides_the_secret() -> None:
    assert SECRET not in repr(_credential(SECRET))


def _credential(secret: str):
    from d365_assets.fo import ClientSecretCredential

    from .fakes import AUTHORITY, CLIENT_ID, TENANT

    return ClientSecretCredential(TENANT, CLIENT_ID, secret, authority_host=AUTHORITY)


# -- download -------------------------------------------------------------------------------------


def test_403_sas_gets_a_fresh_url(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(urls=[f"{BLOB}/dmf/p.zip?sig=OLD{SIG}", f"{BLOB}/dmf/p.zip?sig=NEW{SIG}"])
    fake.blob_faults.append(
        lambda r: httpx.Response(403, text="<Error><Code>AuthenticationFailed</Code></Error>")
    )
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.url_refreshes == 1
    assert [str(r.url).split("sig=")[1] for r in fake.blob_requests] == [f"OLD{SIG}", f"NEW{SIG}"]
    assert (tmp_path / "p.zip").read_bytes() == fake.package


def test_repeated_403_gives_up(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.blob_faults.extend(lambda r: httpx.Response(403) for _ in range(10))
    with fake.client(clock) as client, pytest.raises(PackageDownloadError, match="403"):
        client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert not list(tmp_path.iterdir())


def test_no_authorization_header_reaches_the_blob_host(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    with fake.client(clock) as client:
        client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    assert fake.blob_requests
    for request in fake.blob_requests:
        assert "Authorization" not in request.headers
        assert all(token not in str(request.headers) for token in fake.tokens_issued)
    assert all("Authorization" in headers for _, _, headers in fake.fo_calls)


def test_dropped_connection_resumes_with_range(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    data = fake.package

    def drop_halfway(request: httpx.Request) -> httpx.Response:
        def body():
            yield data[:2000]
            raise httpx.ReadError("connection reset by peer")

        return httpx.Response(200, content=body(), headers={"Content-Length": str(len(data))})

    fake.blob_faults.append(drop_halfway)
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.resumes == 1
    assert fake.blob_requests[1].headers["Range"] == "bytes=2000-"
    assert (tmp_path / "p.zip").read_bytes() == data


def test_short_body_is_detected_and_resumed(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    data = fake.package

    fake.blob_faults.append(
        lambda r: httpx.Response(200, content=iter([data[:100]]), headers={"Content-Length": str(len(data))})
    )
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.size_bytes == len(data)
    assert fake.blob_requests[1].headers["Range"] == "bytes=100-"


def test_blob_503_is_retried(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.blob_faults.append(lambda r: httpx.Response(503))
    with fake.client(clock) as client:
        assert client.download_package(execution_id="X", destination=tmp_path / "p.zip").size_bytes > 0


def test_blob_404_says_re_export(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.blob_faults.append(lambda r: httpx.Response(404))
    with fake.client(clock) as client, pytest.raises(PackageDownloadError, match="7 days"):
        client.download_package(execution_id="X", destination=tmp_path / "p.zip")


def test_not_a_zip_is_rejected(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(package=b"<html>proxy login page</html>")
    with fake.client(clock) as client, pytest.raises(PackageDownloadError, match="not a zip"):
        client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert not list(tmp_path.iterdir())


# -- secrets --------------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_exceptions(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sas_url = f"{BLOB}/dmf/p.zip?sv=2020&sr=b&sp=r&sig={SIG}"
    fake = FakeFinOps(statuses=["Failed"], urls=[sas_url])
    errors: list[str] = []
    with fake.client(clock) as client:
        token = client._transport.auth.token()
        # F&O echoing the token, the secret and the SAS URL back in errors must not leak them.
        fake.errors_value = json.dumps(
            [f"download {sas_url} failed", f"header Bearer {token}", f"secret {SECRET}"]
        )
        fake.fo_faults["GetExportedPackageUrl"] = [odata_400(f"bad token {token} for {sas_url}")]
        with pytest.raises(ExportFailedError) as failed:
            client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
        errors.append(str(failed.value))
        errors.extend(failed.value.errors)
        with pytest.raises(ApiError) as api:
            client.get_exported_package_url("X")
        errors.extend([str(api.value), api.value.inner_message])
        fake.blob_faults.extend(lambda r: httpx.Response(503) for _ in range(10))
        with pytest.raises(PackageDownloadError) as download:
            client.download_package(execution_id="X", destination=tmp_path / "p.zip")
        errors.append(str(download.value))
    with fake.client(clock, credential=_credential("Wr0ng-Secret-Value")) as client:
        fake.secret = SECRET
        with pytest.raises(AuthenticationError) as auth:
            client.get_exported_package_url("X")
        errors.append(str(auth.value))

    texts = [record.getMessage() for record in caplog.records] + errors
    assert any("X" in t for t in texts)
    for text in texts:
        for secret in (SECRET, "Wr0ng-Secret-Value", SIG, *fake.tokens_issued):
            assert secret not in text, (secret, text)
        assert "sig=***" in text or "sig=" not in text


def test_http_logs_of_httpx_are_redacted(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeFinOps()
    with fake.client(clock) as client:
        client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert any(r.name == "httpx" for r in caplog.records)
    assert all(SIG not in r.getMessage() for r in caplog.records)


def test_env_url_without_trailing_slash(clock: FakeClock) -> None:
    fake = FakeFinOps()
    with fake.client(clock, environment_url=ENV + "///") as client:
        assert client.environment_url == ENV
    assert ok("x").status_code == 200
