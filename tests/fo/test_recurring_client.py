"""The recurring integrations client against the emulator over real HTTPS with real msal.

Dequeue (204 when empty, a DequeueResponse read strictly), download with the bearer token only on
the environment's own host (http:// rewritten to https, other hosts refused), ack with the exact
dequeue body, GetMessageStatus; and the queue's documented behaviour as the emulator plays it.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from d365_assets.emulator import Emulator, RecurringJob
from d365_assets.fo import (
    ActivityIdError,
    ApiError,
    MessageStatus,
    RecurringMessageError,
)
from d365_assets.fo.messages import DequeuedMessage, parse_dequeue_response
from d365_assets.fo.transport import open_transport_secrets
from tests.support.environment import client_for
from tests.support.recurring import ACTIVITY, PROJECT, QUICK_VISIBILITY, produce, recurring_config

GOOD = {
    "CorrelationId": "5acd8121-d4e1-4cf8-b31f-9713de3e3627",
    "PopReceipt": "AgAAAAMAAAAAAAAA3XpSEQ0b1QE=",
    "DownloadLocation": "https://contoso.operations.dynamics.com/api/connector/download/x?blob=1",
    "IsDownLoadFileExist": True,
    "FileDownLoadErrorMessage": "",
    "LastDequeueDateTime": None,
}


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emulator", recurring_config(recurring_http_locations=True)) as emulator:
        yield emulator


def downloads(emu: Emulator) -> list:
    return [r for r in emu.requests if "/api/connector/download/" in r.path]


def test_an_empty_queue_answers_none(emu: Emulator) -> None:
    with client_for(emu) as client:
        assert client.recurring.dequeue(ACTIVITY) is None
    assert [r.path for r in emu.requests if r.origin == "fo"] == [
        "/api/connector/dequeue/{" + ACTIVITY.upper() + "}"
    ]


def test_a_message_is_dequeued_downloaded_over_https_and_acknowledged(emu: Emulator, tmp_path: Path) -> None:
    (message_id,) = produce(emu, 1)
    with client_for(emu) as client:
        assert client.recurring.get_message_status(message_id) is MessageStatus.ENQUEUED
        message = client.recurring.dequeue("{" + ACTIVITY.upper() + "}")
        assert message is not None
        assert message.download_location.startswith("http://")  # as behind a load balancer
        downloaded = client.recurring.download(message, tmp_path / "message.zip")
        assert client.recurring.get_message_status(message_id) is MessageStatus.DEQUEUED
        client.recurring.ack(message)
        assert client.recurring.get_message_status(message_id) is MessageStatus.ACKED
    assert message.correlation_id == message_id
    assert message.last_dequeued is None
    assert downloaded is not None
    assert downloaded.path.read_bytes()[:2] == b"PK"
    (download,) = downloads(emu)
    assert download.origin == "fo"  # the https listener: nothing was sent in clear
    assert download.had_authorization
    assert emu.recurring_waiting(ACTIVITY) == 0


def test_an_unacknowledged_message_comes_back_after_the_visibility_timeout(emu: Emulator) -> None:
    first_id, second_id = produce(emu, 2)
    with client_for(emu) as client:
        first = client.recurring.dequeue(ACTIVITY)
        second = client.recurring.dequeue(ACTIVITY)  # the first is hidden meanwhile
        assert client.recurring.dequeue(ACTIVITY) is None
        time.sleep(QUICK_VISIBILITY + 0.2)
        again = client.recurring.dequeue(ACTIVITY)
        with pytest.raises(ApiError) as stale:
            client.recurring.ack(first)  # its pop receipt is no longer the message's
        client.recurring.ack(again)
    assert (first.correlation_id, second.correlation_id) == (first_id, second_id)
    assert again.correlation_id == first_id
    assert first.last_dequeued is None
    assert again.last_dequeued is not None
    assert again.last_dequeued.endswith("Z")
    assert stale.value.status_code == 400
    assert not any(secret in str(stale.value) for secret in open_transport_secrets() if secret)


def test_messages_older_than_the_retention_are_gone(tmp_path: Path) -> None:
    with Emulator(tmp_path / "emulator", recurring_config(retention_seconds=0.5)) as emu:
        produce(emu, 1)
        time.sleep(0.7)
        with client_for(emu) as client:
            assert client.recurring.dequeue(ACTIVITY) is None


def test_a_job_with_a_recurrence_exports_on_its_own(tmp_path: Path) -> None:
    job = RecurringJob(ACTIVITY, PROJECT, "USMF", recurrence_seconds=0.3)
    with (
        Emulator(tmp_path / "emulator", recurring_config(recurring_jobs=(job,))) as emu,
        client_for(emu) as client,
    ):
        first = client.recurring.dequeue(ACTIVITY)  # the first export is due at once
        assert client.recurring.dequeue(ACTIVITY) is None
        time.sleep(0.4)
        second = client.recurring.dequeue(ACTIVITY)
    assert first is not None
    assert second is not None
    assert first.correlation_id != second.correlation_id


def test_the_connector_needs_the_bearer_token(emu: Emulator) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(emu.ca_bundle))) as plain:
        answer = plain.get(f"{emu.environment_url}/api/connector/dequeue/%7B{ACTIVITY}%7D")
    assert answer.status_code == 401


@pytest.mark.parametrize("activity", ["USMF-job", "../../etc", "6d31e09f-1a2b-4c3d-8e9f", "{" + ACTIVITY])
def test_an_activity_id_that_is_not_a_guid_is_refused_before_any_request(
    emu: Emulator, activity: str
) -> None:
    with client_for(emu) as client, pytest.raises(ActivityIdError, match="Manage scheduled data jobs"):
        client.recurring.dequeue(activity)
    assert not [r for r in emu.requests if r.origin == "fo"]


@pytest.mark.parametrize(
    "location",
    [
        "https://attacker.example/api/connector/download/x",
        "http://attacker.example/api/connector/download/x",
        "https://{host}:1/api/connector/download/x",  # the environment's host, another port
        "https://user@{host}/api/connector/download/x",
        "ftp://{host}/x",
    ],
)
def test_a_download_location_off_the_environment_is_refused(
    emu: Emulator, tmp_path: Path, location: str
) -> None:
    host = emu.environment_url.removeprefix("https://").split(":")[0]
    body = json.dumps({**GOOD, "DownloadLocation": location.format(host=host)})
    message = parse_dequeue_response(body, activity_id=ACTIVITY)
    with (
        client_for(emu) as client,
        pytest.raises(RecurringMessageError, match="access token would be sent there"),
    ):
        client.recurring.download(message, tmp_path / "message.zip")
    assert not (tmp_path / "message.zip").exists()
    assert not downloads(emu)


def test_a_message_without_a_file_is_not_downloaded(emu: Emulator, tmp_path: Path) -> None:
    body = json.dumps({**GOOD, "DownloadLocation": None, "IsDownLoadFileExist": False})
    message = parse_dequeue_response(body, activity_id=ACTIVITY)
    with client_for(emu) as client:
        assert client.recurring.download(message, tmp_path / "message.zip") is None
    assert not downloads(emu)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"CorrelationId": None}, "CorrelationId is NoneType, not str"),
        ({"IsDownloadFileExist": True, "IsDownLoadFileExist": None}, "IsDownLoadFileExist is NoneType"),
        ({"IsDownLoadFileExist": "true"}, "IsDownLoadFileExist is str, not bool"),
        ({"PopReceipt": 5}, "PopReceipt is int, not str"),
        ({"CorrelationId": "../../x"}, "is not a GUID"),
        ({"DownloadLocation": ""}, "IsDownLoadFileExist is true but DownloadLocation is empty"),
        ({"LastDequeueDateTime": 17}, "LastDequeueDateTime is int"),
    ],
)
def test_a_dequeue_answer_is_read_strictly(change: dict, problem: str) -> None:
    with pytest.raises(RecurringMessageError, match="cannot be used") as refused:
        parse_dequeue_response(json.dumps({**GOOD, **change}), activity_id=ACTIVITY)
    assert problem in str(refused.value)


def test_a_dequeue_answer_without_a_field_names_it() -> None:
    document = {key: value for key, value in GOOD.items() if key != "PopReceipt"}
    with pytest.raises(RecurringMessageError, match="PopReceipt is missing"):
        parse_dequeue_response(json.dumps(document), activity_id=ACTIVITY)
    with pytest.raises(RecurringMessageError, match="not JSON"):
        parse_dequeue_response("<html>proxy</html>", activity_id=ACTIVITY)


def test_a_message_travels_as_json_and_keeps_its_exact_body() -> None:
    body = json.dumps(GOOD, indent=1)
    message = parse_dequeue_response(body, activity_id=ACTIVITY.upper())
    carried = DequeuedMessage.from_json(message.to_json())
    assert carried == message
    assert carried.body == body
    assert carried.delivery_key == f"{GOOD['CorrelationId']}@first"
    with pytest.raises(RecurringMessageError, match="from its sensor"):
        DequeuedMessage.from_json("not json")
