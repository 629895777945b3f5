"""HTTPS only: the environment, the authority and every package URL, refused before anything is sent.

Through the real client (real msal) with httpx transports as the seam; the emulator cases (an http
environment, authority or package URL against a running emulator) are in test_trust_emulator.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from d365_assets.fo import (
    ClientSecretCredential,
    D365Error,
    InsecureUrlError,
    PackageDownloadError,
)
from d365_assets.fo.auth import MsalHttpClient
from d365_assets.fo.urls import display_url
from d365_assets.settings import Settings

from .fakes import AUTHORITY, BLOB, CLIENT_ID, ENV, SIG, TENANT, FakeClock, FakeFinOps, ok

HTTP_URLS = ["http://fo.test", "http://127.0.0.1:8443", "http://localhost/namespaces/AXSF", "fo.test"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.mark.parametrize("url", HTTP_URLS)
def test_settings_refuse_an_environment_that_is_not_https(url: str) -> None:
    with pytest.raises(InsecureUrlError) as info:
        Settings.from_env({"D365_ENVIRONMENT_URL": url})
    assert "D365_ENVIRONMENT_URL" in str(info.value)
    assert "https://<environment>.operations.dynamics.com" in str(info.value)


def test_settings_refuse_an_authority_that_is_not_https() -> None:
    with pytest.raises(InsecureUrlError) as info:
        Settings.from_env({"D365_AUTHORITY_HOST": "http://127.0.0.1:9999"})
    assert "D365_AUTHORITY_HOST" in str(info.value)
    assert "http://127.0.0.1:9999" in str(info.value)


def test_the_error_shows_no_query_and_no_password() -> None:
    url = f"http://user:pa55word@fo.test/path?sig={SIG}&x=1"
    with pytest.raises(InsecureUrlError) as info:
        Settings.from_env({"D365_ENVIRONMENT_URL": url})
    assert info.value.url == "http://fo.test/path"
    for hidden in ("pa55word", "user", SIG, "sig=", "?"):
        assert hidden not in str(info.value)
    assert display_url(f"{BLOB}/dmf/p.zip?sv=1&sig={SIG}") == f"{BLOB}/dmf/p.zip"


def test_https_with_a_password_is_refused_too() -> None:
    with pytest.raises(InsecureUrlError, match="user name or password") as info:
        Settings.from_env({"D365_ENVIRONMENT_URL": "https://me:secret-pw@fo.test"})
    assert "secret-pw" not in str(info.value)


def test_definitions_fail_to_load_with_the_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `dagster dev` shows: the code location fails to load, naming the variable to fix."""
    from d365_assets.definitions import build_definitions

    monkeypatch.setenv("D365_ENVIRONMENT_URL", "http://contoso.operations.dynamics.com")
    with pytest.raises(InsecureUrlError, match="D365_ENVIRONMENT_URL"):
        build_definitions()


@pytest.mark.parametrize("url", HTTP_URLS)
def test_client_refuses_an_http_environment_before_any_request(url: str, clock: FakeClock) -> None:
    fake = FakeFinOps()
    with pytest.raises(InsecureUrlError, match="D365_ENVIRONMENT_URL"):
        fake.client(clock, environment_url=url)
    assert not fake.authority_requests
    assert not fake.fo_calls


def test_credential_refuses_an_http_authority() -> None:
    with pytest.raises(InsecureUrlError, match="D365_AUTHORITY_HOST") as info:
        ClientSecretCredential(TENANT, CLIENT_ID, "a-secret-value", authority_host="http://login.test")
    assert "a-secret-value" not in str(info.value)


def test_an_http_token_endpoint_from_discovery_never_gets_the_secret(clock: FakeClock) -> None:
    fake = FakeFinOps()
    sent: list[httpx.Request] = []

    def authority(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("openid-configuration"):
            base = f"{AUTHORITY}/{TENANT}"
            return httpx.Response(
                200,
                json={
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"http://login.test/{TENANT}/oauth2/v2.0/token",
                },
            )
        return fake.authority(request)

    msal_http = MsalHttpClient(httpx.Client(transport=httpx.MockTransport(authority)))
    with fake.client(clock, msal_http_client=msal_http) as client, pytest.raises(D365Error):
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert sent
    assert all(r.url.scheme == "https" for r in sent)
    assert not any(r.method == "POST" for r in sent)  # the secret was never posted
    assert not fake.fo_calls


def test_msal_adapter_refuses_http() -> None:
    seen: list[httpx.Request] = []
    adapter = MsalHttpClient(httpx.Client(transport=httpx.MockTransport(lambda r: seen.append(r) or ok(""))))
    with pytest.raises(InsecureUrlError):
        adapter.post("http://login.test/t/oauth2/v2.0/token", data={"client_secret": "x"})
    with pytest.raises(InsecureUrlError):
        adapter.get("http://login.test/t/v2.0/.well-known/openid-configuration")
    assert not seen


def test_an_http_package_url_is_refused_before_the_download(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(urls=[f"http://blob.test/dmf/p.zip?sv=2020&sr=b&sp=r&sig={SIG}"])
    with fake.client(clock) as client, pytest.raises(PackageDownloadError) as info:
        client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    text = str(info.value)
    assert "http://blob.test/dmf/p.zip" in text
    assert SIG not in text
    assert "sig=" not in text
    assert "?" not in text
    assert info.value.execution_id in text
    assert not fake.blob_requests
    assert not list(tmp_path.iterdir())


def test_the_fresh_url_after_a_403_must_be_https_too(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(
        urls=[f"{BLOB}/dmf/p.zip?sig=OLD{SIG}", f"http://blob.test/dmf/p.zip?sig=NEW{SIG}"],
    )
    fake.blob_faults.append(lambda r: httpx.Response(403))
    with fake.client(clock) as client, pytest.raises(PackageDownloadError, match="not HTTPS") as info:
        client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert len(fake.blob_requests) == 1  # the expired https one; the http one was never requested
    assert SIG not in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("page", ["javascript:alert(1)", "http://fo.test/?mi=x", "/relative?mi=x"])
def test_a_summary_page_that_is_not_https_is_dropped(page: str, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["GetExecutionSummaryPageUrl"] = [ok(page)]
    with fake.client(clock) as client:
        assert client.get_execution_summary_page_url("X") == ""
        assert client.get_execution_summary_page_url("X") == f"{ENV}/?mi=DMFExecutionSummary&id=X"
