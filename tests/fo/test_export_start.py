"""Starting an export when its answer is lost, and reading F&O's answers without reading its words.

Against the in-process fake (real msal, httpx.MockTransport): ExportToPackage's answer is lost (a
timeout, a dropped connection, a bare 500), F&O's refusals come in several wordings, and the status
action's 400 in any words. The client asks F&O for the execution before sending anything again,
sends again at most once, and decides from HTTP status and the status F&O reports alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from d365_assets.fo import ApiError, ExecutionStatus, ExportFailedError, PollOptions

from .fakes import FakeClock, FakeFinOps, odata_400

REFUSALS = {
    "already exists": odata_400("Export to package failed ... Execution id X already exists."),
    "duplicate record": odata_400(
        "Cannot create a record in Execution summary (DMFExecution). The record already exists."
    ),
    "generic failure": odata_400("Export to package failed for definition group: P, package name: X"),
    "other language": odata_400("Der Datensatz ist bereits vorhanden."),
    "bare 400": httpx.Response(400),
    "bare 500": httpx.Response(500),
}
LOST = {
    "read timeout": httpx.ReadTimeout("timed out"),
    "dropped connection": httpx.RemoteProtocolError("peer closed connection without sending a response"),
    "bare 500": httpx.Response(500),
    "gateway timeout": httpx.Response(504, text="<html>Gateway Timeout</html>"),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def calls(fake: FakeFinOps, action: str) -> int:
    return sum(1 for name, _, _ in fake.fo_calls if name == action)


@pytest.mark.parametrize("lost", LOST.values(), ids=LOST.keys())
def test_a_lost_answer_is_not_sent_again_when_f_and_o_knows_the_execution(
    lost: object, tmp_path: Path, clock: FakeClock
) -> None:
    fake = FakeFinOps(statuses=["Executing", "Succeeded"], export_answers=[lost])  # type: ignore[list-item]
    with fake.client(clock) as client:
        result = client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.path.read_bytes() == fake.package
    assert calls(fake, "ExportToPackage") == 1
    first_status = next(
        i for i, (name, _, _) in enumerate(fake.fo_calls) if name == "GetExecutionSummaryStatus"
    )
    assert fake.fo_calls[first_status][1] == {"executionId": result.execution_id}


def test_a_lost_answer_unknown_to_f_and_o_is_sent_once_more(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["notfound", "Succeeded"], export_answers=[httpx.ReadTimeout("timed out")])
    with fake.client(clock) as client:
        result = client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    assert result.status is ExecutionStatus.SUCCEEDED
    sent = [body for name, body, _ in fake.fo_calls if name == "ExportToPackage"]
    assert len(sent) == 2
    assert sent[0] == sent[1]  # the same execution id, never a second export
    order = [name for name, _, _ in fake.fo_calls][:3]
    assert order == ["ExportToPackage", "GetExecutionSummaryStatus", "ExportToPackage"]


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_second_send_is_settled_by_the_status_whatever_its_words(
    refusal: httpx.Response, tmp_path: Path, clock: FakeClock
) -> None:
    """The first call arrived but was not visible yet: F&O refuses the repeat in its own words."""
    fake = FakeFinOps(
        statuses=["notfound", "notfound", "notfound", "Executing", "Succeeded"],
        export_answers=[httpx.RemoteProtocolError("connection dropped"), refusal],
    )
    with fake.client(clock) as client:
        result = client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.path.read_bytes() == fake.package
    assert calls(fake, "ExportToPackage") == 2  # at most one re-send


def test_an_execution_f_and_o_never_knows_ends_with_an_unanswered_error(clock: FakeClock) -> None:
    fake = FakeFinOps(
        statuses=["notfound"], export_answers=[httpx.ReadTimeout("timed out"), httpx.ReadTimeout("again")]
    )
    with fake.client(clock, not_found_grace=60.0) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project="P", legal_entity="USMF")
    error = info.value
    assert error.unanswered
    assert calls(fake, "ExportToPackage") == 2
    execution_id = fake.fo_calls[0][1]["executionId"]
    assert execution_id in str(error)
    assert "Job history" in str(error)
    assert clock.now - 1000.0 >= 60.0  # the grace was waited out before giving up


def test_a_refusal_of_the_first_send_is_raised_at_once(clock: FakeClock) -> None:
    fake = FakeFinOps(export_answers=[REFUSALS["generic failure"]])
    with fake.client(clock) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project="NOPE", legal_entity="USMF")
    assert not info.value.unanswered
    assert info.value.status_code == 400
    assert "data project 'NOPE'" in str(info.value)
    assert [name for name, _, _ in fake.fo_calls] == ["ExportToPackage"]


@pytest.mark.parametrize("refused", [httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(503)])
def test_a_call_that_certainly_did_nothing_is_retried_as_usual(
    refused: httpx.Response, clock: FakeClock
) -> None:
    fake = FakeFinOps(export_answers=[refused])
    with fake.client(clock) as client:
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert [name for name, _, _ in fake.fo_calls] == ["ExportToPackage", "ExportToPackage"]


def test_when_f_and_o_cannot_be_asked_nothing_is_sent_again(clock: FakeClock) -> None:
    fake = FakeFinOps(export_answers=[httpx.ReadTimeout("timed out")])
    fake.fo_faults["GetExecutionSummaryStatus"] = [httpx.Response(502) for _ in range(10)]
    with fake.client(clock) as client, pytest.raises(ApiError) as info:
        client.export_to_package(data_project="P", legal_entity="USMF")
    assert info.value.unanswered
    assert "could not be asked" in str(info.value)
    assert calls(fake, "ExportToPackage") == 1


@pytest.mark.parametrize(
    "answer",
    [
        odata_400("Execution details were not found for execution id: X"),
        odata_400("Die Ausführungsdetails für die Ausführungs-ID X wurden nicht gefunden."),
        odata_400("", message="Bad request"),
        httpx.Response(400, text="Bad request"),
        httpx.Response(400),
    ],
    ids=["en", "de", "message only", "plain text", "empty"],
)
def test_any_400_to_the_status_action_is_a_young_execution(answer: httpx.Response, clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["Succeeded"])
    fake.fo_faults["GetExecutionSummaryStatus"] = [answer, answer]
    with fake.client(clock) as client:
        assert client.wait_for_execution("X") is ExecutionStatus.SUCCEEDED
    assert calls(fake, "GetExecutionSummaryStatus") == 3


def test_a_404_to_the_status_action_is_not_taken_for_a_young_execution(clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.fo_faults["GetExecutionSummaryStatus"] = [httpx.Response(404)]
    with fake.client(clock) as client, pytest.raises(ApiError) as info:
        client.wait_for_execution("X")
    assert info.value.status_code == 404
    assert "D365_ENVIRONMENT_URL" in str(info.value)


def test_a_finished_export_is_noticed_within_the_capped_interval(clock: FakeClock) -> None:
    fake = FakeFinOps(statuses=["Executing"] * 40 + ["Succeeded"])
    with fake.client(clock, poll_interval=2.0, poll_timeout=3600.0) as client:
        assert client.polling.max_interval == PollOptions().max_interval
        assert client.wait_for_execution("X") is ExecutionStatus.SUCCEEDED
    assert max(clock.sleeps) <= PollOptions().max_interval <= 15.0  # jitter never exceeds the cap
    assert clock.sleeps[-1] > 5.0  # the backoff did reach the cap


# -- the error for an export that did not succeed ---------------------------------------------------


def _ended(status: str, clock: FakeClock, tmp_path: Path, errors: list[str]) -> ExportFailedError:
    fake = FakeFinOps(statuses=[status], errors_value=json.dumps(errors))
    with fake.client(clock) as client, pytest.raises(ExportFailedError) as info:
        client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    return info.value


def test_a_failed_export_names_dmf_size_limit_and_the_setting_that_lifts_it(
    clock: FakeClock, tmp_path: Path
) -> None:
    error = _ended("Failed", clock, tmp_path, ["Die Datei ist zu groß."])
    text = str(error)
    assert "Die Datei ist zu groß." in text  # F&O's own report, shown as it came
    assert "256 MB" in text
    assert "5 GB" in text
    assert "Azure Storage" in text
    assert "Data management > Framework parameters" in text
    assert error.status == "Failed"


@pytest.mark.parametrize(("status", "advice"), [("Canceled", "canceled"), ("Unknown", "does not say")])
def test_canceled_and_unknown_say_what_they_mean(
    status: str, advice: str, clock: FakeClock, tmp_path: Path
) -> None:
    error = _ended(status, clock, tmp_path, [])
    assert error.status == status
    assert f"ended {status} without error messages" in str(error)
    assert advice in str(error)
    assert "256 MB" not in str(error)
    assert not list(tmp_path.iterdir())


def test_an_odd_status_value_reads_as_unknown(clock: FakeClock, tmp_path: Path) -> None:
    error = _ended("Aborted", clock, tmp_path, [])
    assert error.status == "Unknown"
    assert "does not say" in str(error)
