"""Execution ids become file names: only safe ones, checked in the client and again in the spool.

The client cases use httpx transports as the seam (F&O answering an id of its own); the emulator
plays the same answers over HTTPS in test_trust_emulator.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from d365_assets.fo import UnsafeExecutionIdError, is_safe_execution_id
from d365_assets.fo.execution_ids import new_execution_id
from d365_assets.schema import RefreshMode
from d365_assets.spool import PackageSpool, SpoolError

from .fakes import FakeClock, FakeFinOps, ok

UNSAFE = [
    "",
    ".",
    "..",
    "../x",
    "../../../../x",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "C:x",
    "C:\\x",
    "x\x00y",
    "a..b",
    "x.",
    ".hidden",
    "-rf",
    "a b",
    "CON",
    "nul.zip",
    "Lpt1",
    "x" * 129,
    "ExportPackage-11/15/2018 02:57:10 pm",  # F&O's own form, when it makes the id
    "id\n",
]
SAFE = [
    "D365A-CustomersV3-20260301T120000-0123456789ab",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "_x",
    "a.b-c_d",
    "console",
    "x" * 128,
]


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_ids(value: str) -> None:
    assert not is_safe_execution_id(value)


@pytest.mark.parametrize("value", SAFE)
def test_safe_ids(value: str) -> None:
    assert is_safe_execution_id(value)


@pytest.mark.parametrize("project", ["D365A-CustomersV3", "Export customers/V3: ÜÄ", "..", "-x", "p" * 300])
def test_our_ids_are_always_safe(project: str) -> None:
    assert is_safe_execution_id(new_execution_id(project))
    assert new_execution_id("D365A-CustomersV3").startswith("D365A-CustomersV3-")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("answer", ["../../../../x", "ExportPackage-11/15/2018 02:57:10 pm", "C:\\x"])
def test_an_unsafe_answer_from_export_to_package_writes_nothing(answer: str, tmp_path: Path) -> None:
    fake = FakeFinOps()
    fake.fo_faults["ExportToPackage"] = [ok(answer)]
    packages = tmp_path / "a" / "b" / "c" / "d" / "packages"
    with fake.client(FakeClock()) as client, pytest.raises(UnsafeExecutionIdError) as info:
        client.export_package(data_project="P", legal_entity="USMF", destination_dir=packages)
    assert info.value.execution_id == answer
    assert "instead of the id sent" in str(info.value)
    assert "Data project and job compatibility" in str(info.value)
    assert [action for action, _, _ in fake.fo_calls] == ["ExportToPackage"]  # no wait, no download
    assert not fake.blob_requests
    assert not _files(tmp_path)


def test_a_safe_answer_other_than_ours_is_used(tmp_path: Path) -> None:
    fake = FakeFinOps()
    fake.fo_faults["ExportToPackage"] = [ok("0f8fad5b-d9cb-469f-a165-70867728950e")]
    with fake.client(FakeClock()) as client:
        exported = client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    assert exported.path == tmp_path / "0f8fad5b-d9cb-469f-a165-70867728950e.zip"
    assert _files(tmp_path) == {exported.path}


def test_a_callers_unsafe_id_is_refused_before_any_request(tmp_path: Path) -> None:
    fake = FakeFinOps()
    with fake.client(FakeClock()) as client:
        with pytest.raises(UnsafeExecutionIdError):
            client.export_to_package(data_project="P", legal_entity="USMF", execution_id="../x")
        with pytest.raises(UnsafeExecutionIdError, match="nothing was written"):
            client.complete_export(execution_id="../../../../x", destination=tmp_path / "packages" / "p.zip")
    assert not fake.fo_calls
    assert not fake.blob_requests
    assert not _files(tmp_path)


def test_the_spool_refuses_to_note_an_unsafe_id(tmp_path: Path) -> None:
    spool = PackageSpool(tmp_path / "spool", scope="env -> db")
    with spool.slot("customers_v3", "USMF", timeout=5) as slot:
        before = _files(tmp_path)
        with pytest.raises(SpoolError, match="cannot name a file safely"):
            slot.note(execution_id="../../../../x", mode=RefreshMode.FULL)
        assert _files(tmp_path) == before
        assert not (slot.folder / "../../../../x.json").resolve().exists()


def test_a_note_whose_id_is_not_its_name_is_not_followed(tmp_path: Path) -> None:
    """A tampered note cannot make the next refresh download (or delete) a file outside its folder."""
    spool = PackageSpool(tmp_path / "spool", scope="env -> db")
    with spool.slot("customers_v3", "USMF", timeout=5) as slot:
        noted = slot.note(execution_id="P-20260301T120000-0123456789ab", mode=RefreshMode.DELTA)
        noted.note.write_text(
            json.dumps({"execution_id": "../../../../x", "mode": "delta"}), encoding="utf-8"
        )
        before = _files(tmp_path)
        with pytest.raises(SpoolError, match="not a readable export note"):
            slot.pending()
        assert _files(tmp_path) == before
