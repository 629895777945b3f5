"""The emulator plays each answer F&O may give where its behaviour is not known for sure.

A synchronous ExportToPackage, the ways F&O may refuse an execution id it knows, when the change
tracking watermark moves, DMF's export size limit, Canceled and Unknown endings, and the rows a
PartiallySucceeded export leaves out: each switched on and driven over HTTPS like a DMF client.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, Fault
from tests.support.catalog import catalog_entity

from .helpers import FoClient, data_rows, read_package, small_config

INCREMENTAL, ENTITY, FILE = "D365A-SalesOrderHeadersV2", "SalesOrderHeadersV2", "Sales order headers V2.csv"
FULL = "D365A-VendorsV2"


def _body(project: str, execution_id: str) -> dict[str, object]:
    return {
        "definitionGroupId": project,
        "packageName": execution_id,
        "executionId": execution_id,
        "reExecute": False,
        "legalEntityId": "USMF",
    }


def _file_keys(entity: str, data: bytes, file: str) -> set[tuple[str, ...]]:
    """The natural keys (text) of a package's data file."""
    head, rows = data_rows(read_package(data)[1][file], encoding="utf-16-le")
    positions = [head.index(k) for k in catalog_entity(entity).natural_key]
    return {tuple(row[p] for p in positions) for row in rows}


def _source_keys(emu: Emulator, entity: str) -> set[tuple[str, ...]]:
    key = catalog_entity(entity).natural_key
    return {tuple(str(row[k]) for k in key) for row in emu.source_rows(entity, "USMF")}


def _delta_keys(fo: FoClient) -> set[tuple[str, ...]]:
    return _file_keys(ENTITY, fo.export_package(INCREMENTAL, "USMF")[1], FILE)


def test_a_synchronous_export_answers_only_when_it_is_done(state_dir: Path) -> None:
    config = small_config(export_synchronous=True, executing_seconds=0.8)
    with Emulator(state_dir, config) as emu, FoClient(emu) as fo:
        started = time.monotonic()
        execution_id = fo.export(FULL, "USMF")
        assert time.monotonic() - started >= 0.8
        assert fo.value("GetExecutionSummaryStatus", {"executionId": execution_id}) == "Succeeded"
        assert fo.wait_url(execution_id).startswith(emu.blob_host)


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        ("already_exists", 400, "already exists"),
        ("record_exists", 400, "The record already exists."),
        ("export_failed", 400, "Export to package failed for definition group: D365A-VendorsV2"),
        ("bare_500", 500, ""),
    ],
)
def test_an_execution_id_seen_before_is_refused_as_configured(
    state_dir: Path, answer: str, status: int, words: str
) -> None:
    with Emulator(state_dir, small_config(duplicate_id_answer=answer)) as emu, FoClient(emu) as fo:
        execution_id = fo.export(FULL, "USMF")
        again = fo.action("ExportToPackage", _body(FULL, execution_id))
    assert again.status_code == status
    if status == 500:
        assert again.content == b""  # no OData error at all
    else:
        assert words in again.json()["error"]["innererror"]["message"]


@pytest.mark.parametrize("moves", ["succeeded", "accepted"])
def test_the_watermark_moves_on_success_or_on_acceptance(state_dir: Path, moves: str) -> None:
    with Emulator(state_dir, small_config(watermark_moves=moves)) as emu, FoClient(emu) as fo:
        _delta_keys(fo)  # the first export of an incremental project: everything
        assert emu.watermark(INCREMENTAL, "USMF") == 0
        emu.advance_activity(1)
        changed = _source_keys(emu, ENTITY)
        emu.set_faults(Fault("stay_not_run", project=INCREMENTAL))
        fo.export(INCREMENTAL, "USMF")  # accepted, and never runs
        assert emu.watermark(INCREMENTAL, "USMF") == (1 if moves == "accepted" else 0)
        emu.set_faults(Fault("end_as", status="Canceled", project=INCREMENTAL))
        canceled = fo.export(INCREMENTAL, "USMF")
        assert fo.wait_status(canceled) == "Canceled"
        assert fo.value("GetExportedPackageUrl", {"executionId": canceled}) == ""
        delta = _delta_keys(fo)
    if moves == "succeeded":
        assert delta, "the changes of round 1 were never exported, so they come now"
        assert delta <= changed
    else:
        assert delta == set(), "the accepted exports took round 1's changes with them"


@pytest.mark.parametrize("status", ["Canceled", "Unknown", "Failed"])
def test_end_as_ends_one_export_with_a_status(emulator: Emulator, client: FoClient, status: str) -> None:
    emulator.set_faults(Fault("end_as", status=status))
    ended = client.export(FULL, "USMF")
    assert client.wait_status(ended) == status
    errors = json.loads(client.value("GetExecutionErrors", {"executionId": ended}))
    assert bool(errors) is (status == "Failed")
    assert client.value("GetExportedPackageUrl", {"executionId": ended}) == ""
    assert client.export_package(FULL, "USMF")[1]  # the fault was used up: the next one succeeds


def test_end_as_needs_a_final_status() -> None:
    with pytest.raises(ValueError, match="Failed, Canceled, Unknown"):
        Fault("end_as", status="Succeeded")


def test_unknown_is_an_outcome_a_project_can_have(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(outcomes={FULL: "Unknown"})) as emu, FoClient(emu) as fo:
        assert fo.wait_status(fo.export(FULL, "USMF")) == "Unknown"


def test_an_export_above_the_size_limit_fails_with_an_execution_error(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(export_size_limit_bytes=2000)) as emu, FoClient(emu) as fo:
        execution_id = fo.export(FULL, "USMF")
        assert fo.wait_status(execution_id) == "Failed"
        [error] = json.loads(fo.value("GetExecutionErrors", {"executionId": execution_id}))
        assert fo.value("GetExportedPackageUrl", {"executionId": execution_id}) == ""
    assert "Vendors V2" in error
    assert "2,000 bytes" in error
    with Emulator(state_dir, small_config(export_size_limit_bytes=10_000_000)) as emu, FoClient(emu) as fo:
        assert fo.export_package(FULL, "USMF")[1]


def test_a_partially_succeeded_package_lacks_its_failed_rows(state_dir: Path) -> None:
    config = small_config(outcomes={FULL: "PartiallySucceeded"}, partial_failed_rows=3)
    with Emulator(state_dir, config) as emu, FoClient(emu) as fo:
        execution_id = fo.export(FULL, "USMF")
        assert fo.wait_status(execution_id) == "PartiallySucceeded"
        data = fo.download(fo.wait_url(execution_id))
        errors = json.loads(fo.value("GetExecutionErrors", {"executionId": execution_id}))
        source = _source_keys(emu, "VendorsV2")
    exported = _file_keys("VendorsV2", data, "Vendors V2.csv")
    assert exported < source
    assert len(source - exported) == 3
    assert errors == ["Entity Vendors V2: 3 record(s) could not be exported and are not in the package."]


def test_finished_at_and_request_times_tell_how_soon_a_client_noticed(emulator: Emulator) -> None:
    with FoClient(emulator) as fo:
        execution_id = f"{FULL}-{uuid.uuid4()}"
        assert emulator.finished_at(execution_id) is None
        fo.export(FULL, "USMF", execution_id=execution_id)
        assert fo.wait_status(execution_id) == "Succeeded"
        fo.download(fo.wait_url(execution_id))
    finished = emulator.finished_at(execution_id)
    assert finished is not None
    [download] = [r for r in emulator.requests if r.origin == "blob"]
    assert finished <= download.at <= time.time()
