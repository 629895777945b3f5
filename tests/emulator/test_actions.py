"""DMF actions on the F&O origin: envelopes, errors, bearer checks, lifecycle, $count."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from defusedxml import ElementTree as ET

from d365_assets.emulator import Emulator

from .helpers import ACTION, FoClient, small_config

ENVELOPE_TYPE = "application/json; odata.metadata=minimal"
INNER = "Exception occurred while executing action {} on Entity DataManagementDefinitionGroup: "


def _export_body(project: str = "D365A-CustomersV3", execution_id: str = "", company: str = "USMF") -> dict:
    return {
        "definitionGroupId": project,
        "packageName": "pkg",
        "executionId": execution_id,
        "reExecute": False,
        "legalEntityId": company,
    }


def _assert_envelope(response, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ENVELOPE_TYPE
    assert response.headers["odata-version"] == "4.0"
    body = response.json()
    assert set(body) == {"@odata.context", "value"}
    assert body["@odata.context"] == f"{emulator.environment_url}/data/$metadata#Edm.String"
    assert isinstance(body["value"], str)
    return body["value"]


def _assert_error(response, action: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == ""
    assert error["message"] == "An error has occurred."
    assert error["innererror"]["type"] == "System.InvalidOperationException"
    assert error["innererror"]["message"] == INNER.format(action) + detail


def test_success_envelopes_through_the_lifecycle(state_dir: Path) -> None:
    phases = {"not_visible_seconds": 0.3, "not_run_seconds": 0.3, "executing_seconds": 0.3}
    with Emulator(state_dir, small_config(**phases)) as emulator, FoClient(emulator) as client:
        _walk_lifecycle(client, emulator)


def _walk_lifecycle(client: FoClient, emulator: Emulator) -> None:
    execution_id = _assert_envelope(client.action("ExportToPackage", _export_body()), emulator)
    assert execution_id.startswith("ExportPackage-")

    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.action("GetExecutionSummaryStatus", {"executionId": execution_id})
        if response.status_code == 400:
            _assert_error(
                response,
                "GetExecutionSummaryStatus",
                f"Execution details were not found for execution id: {execution_id}",
            )
            seen.append("hidden")
        else:
            seen.append(_assert_envelope(response, emulator))
            if seen[-1] == "Succeeded":
                break
        time.sleep(0.01)
    ordered = list(dict.fromkeys(seen))
    assert ordered == ["hidden", "NotRun", "Executing", "Succeeded"]

    url = client.wait_url(execution_id)
    assert url.startswith(f"{emulator.blob_host}/dmf/pkg-")
    assert "sig=" in url
    assert "sp=r" in url
    assert "sr=b" in url
    errors = _assert_envelope(client.action("GetExecutionErrors", {"executionId": execution_id}), emulator)
    assert errors == "[]"
    page = _assert_envelope(
        client.action("GetExecutionSummaryPageUrl", {"executionId": execution_id}), emulator
    )
    assert page.startswith(f"{emulator.environment_url}/")

    again = client.action("ExportToPackageAsync", _export_body(execution_id="my-own-id"))
    assert _assert_envelope(again, emulator) == "my-own-id"


def test_error_envelopes(client: FoClient) -> None:
    _assert_error(
        client.action("GetExecutionSummaryStatus", {"executionId": "missing"}),
        "GetExecutionSummaryStatus",
        "Execution details were not found for execution id: missing",
    )
    body = _export_body()
    del body["executionId"]
    missing_key = client.action("ExportToPackage", body)
    assert missing_key.status_code == 400
    assert missing_key.json()["error"]["innererror"]["message"] == "InvokeAction - Model state is invalid."

    wrong_type = client.action("ExportToPackage", {**_export_body(), "reExecute": "no"})
    assert wrong_type.status_code == 400
    assert "Model state is invalid" in wrong_type.text

    _assert_error(
        client.action("ExportToPackage", _export_body(project="No-Such-Project", execution_id="e1")),
        "ExportToPackage",
        "Export to package failed for definition group: No-Such-Project, package name: pkg, "
        "execution id: e1, reExecute: False, legal entity: USMF",
    )
    bad_company = client.action("ExportToPackage", _export_body(company="ZZZZ", execution_id="e2"))
    assert bad_company.status_code == 400
    assert "legal entity: ZZZZ" in bad_company.text

    client.export("D365A-VendorsV2", "USMF", execution_id="dup")
    duplicate = client.action("ExportToPackage", _export_body(execution_id="dup"))
    assert duplicate.status_code == 400

    unknown = client.action("NoSuchAction", {})
    assert unknown.status_code == 404


def test_bearer_required(client: FoClient, emulator: Emulator) -> None:
    url = f"{emulator.environment_url}{ACTION}GetExecutionSummaryStatus"
    no_token = client.http.post(url, json={"executionId": "x"})
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"] == "Bearer"
    assert no_token.content == b""
    unknown = client.http.post(url, json={"executionId": "x"}, headers={"Authorization": "Bearer forged"})
    assert unknown.status_code == 401


def test_expired_token_gets_401(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(token_lifetime_seconds=1)) as emu, FoClient(emu) as fo:
        response = fo.token_response()
        assert response.json()["expires_in"] == 1
        token = response.json()["access_token"]
        assert fo.action("GetExecutionSummaryStatus", {"executionId": "x"}, token=token).status_code == 400
        time.sleep(1.2)
        assert fo.action("GetExecutionSummaryStatus", {"executionId": "x"}, token=token).status_code == 401


def test_on_premises_prefix(client: FoClient, emulator: Emulator) -> None:
    response = client.http.post(
        f"{emulator.environment_url}/namespaces/AXSF{ACTION}GetExecutionSummaryStatus",
        json={"executionId": "x"},
        headers={"Authorization": f"Bearer {client.token()}"},
    )
    assert response.status_code == 400
    assert "were not found" in response.text


@pytest.mark.parametrize("outcome", ["Failed", "PartiallySucceeded"])
def test_forced_outcomes_and_errors(state_dir: Path, outcome: str) -> None:
    config = small_config(
        outcomes={"D365A-VendorsV2": outcome}, outcome_errors={"D365A-VendorsV2": ("boom",)}
    )
    with Emulator(state_dir, config) as emu, FoClient(emu) as fo:
        execution_id = fo.export("D365A-VendorsV2", "USMF")
        assert fo.wait_status(execution_id) == outcome
        assert json.loads(fo.value("GetExecutionErrors", {"executionId": execution_id})) == ["boom"]
        if outcome == "Failed":
            time.sleep(0.2)
            assert fo.value("GetExportedPackageUrl", {"executionId": execution_id}) == ""
        else:
            assert fo.download(fo.wait_url(execution_id))[:2] == b"PK"


def test_lenient_unknown_project_fails_later(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(strict_project_check=False)) as emu, FoClient(emu) as fo:
        execution_id = fo.export("No-Such-Project", "USMF")
        assert fo.wait_status(execution_id) == "Failed"
        errors = json.loads(fo.value("GetExecutionErrors", {"executionId": execution_id}))
        assert errors
        assert "No-Such-Project" in errors[0]


def test_count(client: FoClient, emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {client.token()}"}

    def count(path: str) -> int:
        response = client.http.get(f"{emulator.environment_url}/data/{path}", headers=headers)
        assert response.status_code == 200, response.text
        return int(response.text)

    usmf = len(emulator.source_rows("CustomersV3", "USMF"))
    demf = len(emulator.source_rows("CustomersV3", "DEMF"))
    assert count("CustomersV3/$count?$filter=dataAreaId eq 'usmf'") == usmf
    assert count("CustomersV3/$count?cross-company=true") == usmf + demf
    assert count("MainAccounts/$count") == len(emulator.source_rows("MainAccounts", None))
    metadata = client.http.get(f"{emulator.environment_url}/data/$metadata", headers=headers)
    assert metadata.status_code == 200
    assert 'Name="CreditLimit" Type="Edm.Decimal" Precision="32" Scale="6"' in metadata.text


def test_count_is_as_strict_as_fo(client: FoClient, emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {client.token()}"}

    def get(path: str):  # type: ignore[no-untyped-def]
        return client.http.get(f"{emulator.environment_url}/data/{path}", headers=headers)

    demf = len(emulator.source_rows("CustomersV3", "DEMF"))
    for other_name in ("customersv3", "CUSTOMERSV3", "Customers V3", "CustCustomerV3Entity"):
        assert get(f"{other_name}/$count").status_code == 404, other_name
    assert get("CustomersV3/$count?$filter=dataAreaId eq 'demf'").text == "0", "not the default company"
    assert get("CustomersV3/$count?cross-company=true&$filter=dataAreaId eq 'demf'").text == str(demf)
    assert get("CustomersV3/$count?cross-company=TRUE&$filter=dataAreaId eq 'DEMF'").text == str(demf)


def test_metadata_lists_the_enum_members_of_every_symbol_written(
    client: FoClient, emulator: Emulator
) -> None:
    """Each enum property's type lists its members, as F&O's $metadata does; the rows only use them."""
    headers = {"Authorization": f"Bearer {client.token()}"}
    response = client.http.get(f"{emulator.environment_url}/data/$metadata", headers=headers)
    assert response.status_code == 200
    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    schema = ET.fromstring(response.content).find(f"*/{edm}Schema")
    assert schema is not None
    members = {
        f"Microsoft.Dynamics.DataEntities.{enum.get('Name')}": [
            m.get("Name") for m in enum.findall(f"{edm}Member")
        ]
        for enum in schema.findall(f"{edm}EnumType")
    }
    assert members["Microsoft.Dynamics.DataEntities.NoYes"] == ["No", "Yes"]
    emulator.advance_activity(2)
    checked = 0
    for entity_set in schema.iter(f"{edm}EntitySet"):
        name = entity_set.get("Name", "")
        entity_type = schema.find(
            f"{edm}EntityType[@Name='{entity_set.get('EntityType', '').rsplit('.', 1)[-1]}']"
        )
        assert entity_type is not None
        enums = {
            p.get("Name", "").upper(): members[p.get("Type", "")]
            for p in entity_type.findall(f"{edm}Property")
            if p.get("Type", "") in members and not p.get("Type", "").endswith(".NoYes")
        }
        company = "USMF" if entity_type.find(f"{edm}Property[@Name='dataAreaId']") is not None else None
        for row in emulator.source_rows(name, company):
            for column, allowed in enums.items():
                assert row[column] in allowed, (name, column, row[column])
                checked += 1
    assert checked > 1000
