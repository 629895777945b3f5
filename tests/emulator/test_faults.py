"""Emulator-side fault injection: the model, the shared store, the admin routes, assertions."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from d365_assets.emulator import THROTTLE_MESSAGES, Emulator, Fault

# The emulator's own internals under test: the client-assertion type its authority accepts, the
# configuration it records in its state folder, and the fault specs of its command line.
from d365_assets.emulator.client_cert import ASSERTION_TYPE
from d365_assets.emulator.config import config_from_dict, config_to_dict
from d365_assets.emulator.faults import faults_from_json, parse_fault_spec

from .helpers import ACTION, FoClient, small_config


def test_fault_specs() -> None:
    assert parse_fault_spec("status_not_found:3") == Fault("status_not_found", count=3)
    assert parse_fault_spec(
        "throttle:count=2,retry_after=5,actions=ExportToPackage+GetExecutionErrors"
    ) == Fault("throttle", count=2, retry_after=5, actions=("ExportToPackage", "GetExecutionErrors"))
    assert parse_fault_spec("sas_expiry:seconds=-60").seconds == -60.0
    assert faults_from_json('{"faults": [{"kind": "blob_drop", "after_bytes": 10}]}') == (
        Fault("blob_drop", after_bytes=10),
    )
    assert parse_fault_spec("blob_corrupt:after_bytes=100") == Fault("blob_corrupt", after_bytes=100)
    assert parse_fault_spec("http_package_url") == Fault("http_package_url")
    assert parse_fault_spec("foreign_execution_id:execution_id=../x,project=P") == Fault(
        "foreign_execution_id", execution_id="../x", project="P"
    )
    for bad in ("nonsense", "throttle:count=0", "throttle:colour=red", "throttle:count"):
        with pytest.raises(ValueError, match=r"fault|count|kind"):
            parse_fault_spec(bad)


def test_faults_are_not_recorded_as_environment() -> None:
    config = small_config(faults=(Fault("throttle"),))
    assert "faults" not in config_to_dict(config)
    restored = config_from_dict({**config_to_dict(config), "faults": [Fault("blob_drop").to_dict()]})
    assert restored.faults == (Fault("blob_drop"),)


def test_counts_and_sharing_between_emulators(state_dir: Path) -> None:
    with Emulator(
        state_dir, small_config(faults=(Fault("throttle", count=2, actions=("GetExecutionErrors",)),))
    ) as a:
        b = Emulator(state_dir)  # another emulator (as another process would) on the same state
        with b, FoClient(b) as fo:
            body = {"executionId": "x"}
            assert (
                fo.http.post(
                    f"{b.environment_url}{ACTION}GetExecutionSummaryStatus",
                    json=body,
                    headers={"Authorization": f"Bearer {fo.token()}"},
                ).status_code
                == 400
            )
            first = fo.http.post(
                f"{b.environment_url}{ACTION}GetExecutionErrors",
                json=body,
                headers={"Authorization": f"Bearer {fo.token()}"},
            )
            assert first.status_code == 429
            assert first.headers["Retry-After"] == "1"
            assert first.json()["error"]["message"] == THROTTLE_MESSAGES["requests"]
            assert a.faults == [Fault("throttle", count=1, actions=("GetExecutionErrors",))]


def test_admin_routes(emulator: Emulator, client: FoClient) -> None:
    url = f"{emulator.environment_url}/_emulator/faults"
    assert client.http.post(url, json={"kind": "throttle"}).status_code == 401  # bearer required
    auth = {"Authorization": f"Bearer {client.token()}"}
    answer = client.http.post(
        url, json={"faults": [{"kind": "blob_drop", "count": 2}], "replace": True}, headers=auth
    )
    assert answer.status_code == 200
    assert answer.json()["faults"][0]["kind"] == "blob_drop"
    assert emulator.faults == [Fault("blob_drop", count=2)]
    assert client.http.post(url, json={"kind": "nope"}, headers=auth).status_code == 400
    assert client.http.delete(url, headers=auth).json() == {"faults": []}
    revoked = client.http.post(f"{emulator.environment_url}/_emulator/tokens/revoke", headers=auth)
    assert revoked.json()["revoked"] >= 1
    assert client.http.get(url, headers=auth).status_code == 401  # the token is gone


def test_token_throttle(emulator: Emulator, client: FoClient) -> None:
    emulator.set_faults(Fault("token_throttle", retry_after=7))
    throttled = client.token_response()
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"] == "temporarily_unavailable"
    assert client.token_response().status_code == 200


def _assertion(emu: Emulator, key_pem: bytes, *, audience: str | None = None) -> str:
    now = time.time()
    claims = {
        "aud": audience or f"{emu.authority_host}/{emu.tenant_id}/oauth2/v2.0/token",
        "iss": emu.client_id,
        "sub": emu.client_id,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, key_pem, algorithm="RS256")


def test_client_assertion(emulator: Emulator) -> None:
    pem = emulator.client_certificate.read_bytes()
    token_url = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "scope": f"{emulator.environment_url}/.default",
        "client_assertion_type": ASSERTION_TYPE,
    }
    with httpx.Client(verify=str(emulator.ca_bundle), trust_env=False) as http:
        ok = http.post(token_url, data={**form, "client_assertion": _assertion(emulator, pem)})
        assert ok.status_code == 200, ok.text
        wrong_aud = _assertion(emulator, pem, audience="https://elsewhere/token")
        refused = http.post(token_url, data={**form, "client_assertion": wrong_aud})
        assert refused.status_code == 401
        assert "AADSTS700027" in refused.json()["error_description"]
        garbage = http.post(token_url, data={**form, "client_assertion": "not.a.jwt"})
        assert garbage.status_code == 401


def test_blob_corrupt_changes_one_byte_and_keeps_the_md5(emulator: Emulator, client: FoClient) -> None:
    url = _package_url(client, "D365A-CustomersV3")
    clean = client.http.get(url)
    emulator.set_faults(Fault("blob_corrupt", after_bytes=100))
    corrupt = client.http.get(url)
    assert corrupt.status_code == 200
    assert len(corrupt.content) == len(clean.content)
    assert [i for i, (a, b) in enumerate(zip(clean.content, corrupt.content, strict=True)) if a != b] == [100]
    assert corrupt.headers["Content-MD5"] == clean.headers["Content-MD5"]  # the stored MD5 tells
    md5 = base64.b64encode(hashlib.md5(corrupt.content, usedforsecurity=False).digest()).decode()
    assert md5 != corrupt.headers["Content-MD5"]
    assert client.http.get(url).content == clean.content  # count=1: the next download is clean
    emulator.set_faults(Fault("blob_corrupt"))
    ranged = client.http.get(url, headers={"Range": "bytes=1000-"})
    assert ranged.status_code == 206
    middle = (len(clean.content) - 1000) // 2
    assert ranged.content[middle] != clean.content[1000 + middle]
    assert ranged.content[:middle] == clean.content[1000 : 1000 + middle]


def test_http_package_url(emulator: Emulator, client: FoClient) -> None:
    execution_id = client.export("D365A-CustomersV3", "USMF")
    client.wait_status(execution_id)
    https_url = client.wait_url(execution_id)
    emulator.set_faults(Fault("http_package_url"))
    answer = client.value("GetExportedPackageUrl", {"executionId": execution_id})
    assert answer.startswith("http://127.0.0.1:")
    assert answer.split("?")[0] == "http://" + https_url.split("?")[0].removeprefix("https://")
    assert client.value("GetExportedPackageUrl", {"executionId": execution_id}).startswith("https://")


def test_foreign_execution_id(emulator: Emulator, client: FoClient) -> None:
    body = {
        "definitionGroupId": "D365A-CustomersV3",
        "packageName": "ours",
        "executionId": "ours",
        "reExecute": False,
        "legalEntityId": "USMF",
    }
    emulator.set_faults(Fault("foreign_execution_id", execution_id="../../../../x"))
    assert client.value("ExportToPackage", body) == "../../../../x"
    assert client.wait_status("../../../../x") == "Succeeded"  # F&O runs it under that id
    emulator.set_faults(Fault("foreign_execution_id"))
    own = client.value("ExportToPackage", {**body, "executionId": "ours-2", "packageName": "ours-2"})
    assert own.startswith("ExportPackage-")
    assert "/" in own  # F&O's own form: a date and time
    assert client.wait_status(own) == "Succeeded"


def _package_url(client: FoClient, project: str) -> str:
    execution_id = client.export(project, "USMF")
    assert client.wait_status(execution_id) == "Succeeded"
    return client.wait_url(execution_id)
