"""The Entra-like authority: real msal gets a token; errors look like Entra's."""

from __future__ import annotations

from urllib.parse import urlsplit

import msal
import requests

from d365_assets.emulator import Emulator

from .helpers import FoClient


class RecordingSession(requests.Session):
    """A requests session that trusts only the emulator CA and remembers every host it calls."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.verify = ca_bundle
        self.trust_env = False  # REQUESTS_CA_BUNDLE would override verify otherwise
        self.hosts: list[str] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self.hosts.append(urlsplit(url).netloc)
        return super().request(method, url, *args, **kwargs)


def _app(emulator: Emulator, session: RecordingSession, secret: str) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        emulator.client_id,
        client_credential=secret,
        authority=f"{emulator.authority_host}/{emulator.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )


def test_real_msal_gets_token_then_uses_cache(emulator: Emulator) -> None:
    session = RecordingSession(str(emulator.ca_bundle))
    app = _app(emulator, session, emulator.client_secret)
    scopes = [f"{emulator.environment_url}/.default"]

    first = app.acquire_token_for_client(scopes=scopes)
    assert first.get("token_type") == "Bearer", first
    assert first["token_source"] == "identity_provider"
    second = app.acquire_token_for_client(scopes=scopes)
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]

    authority = urlsplit(emulator.authority_host).netloc
    assert set(session.hosts) == {authority}
    token_posts = [r for r in emulator.requests if r.origin == "authority" and r.method == "POST"]
    assert len(token_posts) == 1

    with FoClient(emulator) as fo:
        status = fo.action("GetExecutionSummaryStatus", {"executionId": "nope"}, token=first["access_token"])
    assert status.status_code == 400  # the token is accepted by F&O (not 401)


def test_wrong_secret_is_aadsts7000215_and_calls_no_other_host(emulator: Emulator) -> None:
    session = RecordingSession(str(emulator.ca_bundle))
    app = _app(emulator, session, "not-the-secret")

    result = app.acquire_token_for_client(scopes=[f"{emulator.environment_url}/.default"])

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(result)
    assert set(session.hosts) == {urlsplit(emulator.authority_host).netloc}
    assert "not-the-secret" not in str(emulator.requests)


def test_token_endpoint_errors(client: FoClient, emulator: Emulator) -> None:
    unknown_client = client.http.post(
        f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "x",
            "client_secret": "y",
            "scope": "s/.default",
        },
    )
    assert unknown_client.status_code == 400
    assert unknown_client.json()["error"] == "unauthorized_client"
    assert unknown_client.json()["error_codes"] == [700016]

    unknown_tenant = client.http.post(
        f"{emulator.authority_host}/other-tenant/oauth2/v2.0/token", data={"grant_type": "client_credentials"}
    )
    assert unknown_tenant.status_code == 400
    assert unknown_tenant.json()["error_codes"] == [90002]

    basic = client.http.post(
        f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": f"{emulator.environment_url}/.default"},
        auth=(emulator.client_id, emulator.client_secret),
    )
    assert basic.status_code == 200
    assert basic.json()["expires_in"] == 3599


def test_trailing_slash_audience_gets_token_but_fo_answers_401(client: FoClient, emulator: Emulator) -> None:
    response = client.token_response(scope=f"{emulator.environment_url}//.default")
    assert response.status_code == 200
    token = response.json()["access_token"]
    denied = client.action("GetExecutionSummaryStatus", {"executionId": "x"}, token=token)
    assert denied.status_code == 401


def test_openid_configuration_is_https_on_the_authority(client: FoClient, emulator: Emulator) -> None:
    doc = client.http.get(
        f"{emulator.authority_host}/{emulator.tenant_id}/v2.0/.well-known/openid-configuration"
    )
    assert doc.status_code == 200
    body = doc.json()
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert body[key].startswith(f"{emulator.authority_host}/"), key


def _adfs_app(
    emulator: Emulator, session: RecordingSession, secret: str
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        emulator.client_id,
        client_credential=secret,
        authority=f"{emulator.authority_host}/adfs",
        validate_authority=False,
        http_client=session,
    )


def test_real_msal_gets_a_token_from_the_adfs_authority(emulator: Emulator) -> None:
    session = RecordingSession(str(emulator.ca_bundle))
    app = _adfs_app(emulator, session, emulator.client_secret)
    assert app.authority.is_adfs, "msal takes its AD FS path (no instance discovery, no /v2.0)"

    token = app.acquire_token_for_client(scopes=[f"{emulator.environment_url}/.default"])
    assert token.get("token_type", "").lower() == "bearer", token
    calls = [(r.method, r.path) for r in emulator.requests if r.origin == "authority"]
    assert calls == [("GET", "/adfs/.well-known/openid-configuration"), ("POST", "/adfs/oauth2/token/")]
    assert set(session.hosts) == {urlsplit(emulator.authority_host).netloc}
    with FoClient(emulator) as fo:
        status = fo.action("GetExecutionSummaryStatus", {"executionId": "nope"}, token=token["access_token"])
    assert status.status_code == 400, "F&O accepts the AD FS token (not 401)"

    refused = _adfs_app(emulator, RecordingSession(str(emulator.ca_bundle)), "not-the-secret")
    result = refused.acquire_token_for_client(scopes=[f"{emulator.environment_url}/.default"])
    assert result["error"] == "invalid_client"
    assert "error_codes" not in result, "AD FS's shape, not Entra's"
    assert "AADSTS" not in result["error_description"]


def test_adfs_token_endpoint_takes_a_resource_too(client: FoClient, emulator: Emulator) -> None:
    response = client.http.post(
        f"{emulator.authority_host}/adfs/oauth2/token/",
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "resource": emulator.environment_url,
        },
    )
    assert response.status_code == 200, response.text
    with FoClient(emulator) as fo:
        token = response.json()["access_token"]
        status = fo.action("GetExecutionSummaryStatus", {"executionId": "nope"}, token=token)
    assert status.status_code == 400
