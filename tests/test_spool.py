"""The package spool on real files: one slot per table and company, notes, set-aside exports, reconciles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from d365_assets.schema import RefreshMode
from d365_assets.spool import PackageSpool, SpoolError, SpoolSlot

ROOT = Path(__file__).resolve().parents[1]
TABLE, COMPANY = "sales_order_lines_v2", "USMF"


@pytest.fixture
def spool(tmp_path: Path) -> PackageSpool:
    return PackageSpool(tmp_path / "packages", scope="https://fo.test -> /srv/warehouse.duckdb")


@contextmanager
def slot_of(spool: PackageSpool, table: str = TABLE, company: str | None = COMPANY) -> Iterator[SpoolSlot]:
    with spool.slot(table, company, timeout=5) as slot:
        yield slot


@contextmanager
def held_in_another_process(spool: PackageSpool, table: str, company: str | None) -> Iterator[int]:
    """Another process (a refresh) holds the slot of ``table`` and ``company``; yields its pid."""
    code = f"""
        import time
        from d365_assets.spool import PackageSpool
        with PackageSpool({str(spool.root)!r}, scope={spool.scope!r}).slot({table!r}, {company!r}, timeout=5):
            print("held", flush=True)
            time.sleep(60)
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


# -- slots -----------------------------------------------------------------------------------


def test_a_slot_is_a_folder_per_scope_table_and_company(spool: PackageSpool, tmp_path: Path) -> None:
    with slot_of(spool) as slot, slot_of(spool, "main_accounts", None) as shared:
        assert (slot.table, slot.company) == (TABLE, COMPANY)
        assert slot.folder.parts[-2:] == (TABLE, COMPANY)
        assert shared.folder.parts[-2:] == ("main_accounts", "_shared")
        assert slot.folder.parent.parent == shared.folder.parent.parent
    base = slot.folder.parent.parent
    assert (base / "scope.txt").read_text(encoding="utf-8") == spool.scope + "\n"
    other = PackageSpool(tmp_path / "packages", scope="https://other.test -> /srv/warehouse.duckdb")
    with slot_of(other) as elsewhere:
        assert elsewhere.folder != slot.folder, "another environment or warehouse: another folder"


def test_names_that_cannot_be_folders_are_made_safe(spool: PackageSpool) -> None:
    with slot_of(spool, "../../etc", "U/S MF") as slot:
        assert slot.folder.parts[-2:] == ("______etc", "U_S_MF")
        assert slot.folder.is_relative_to(spool.root)


def test_a_slot_held_by_another_refresh_times_out_with_the_fix(spool: PackageSpool) -> None:
    with held_in_another_process(spool, TABLE, COMPANY):
        started = time.monotonic()
        with pytest.raises(SpoolError) as info, spool.slot(TABLE, COMPANY, timeout=0.5):
            pytest.fail("the slot is held elsewhere")
        assert 0.5 <= time.monotonic() - started < 5
        message = str(info.value)
        assert f"another refresh of {TABLE} ({COMPANY})" in message
        assert "wait for it to finish (or end it) and run this one again" in message
        with slot_of(spool, TABLE, "DEMF"), slot_of(spool, "customers_v3", COMPANY):
            pass  # other companies and tables are not held
    with slot_of(spool) as slot:
        assert slot.pending() == [], "a refresh that died let go of its slot"


def test_a_shared_table_names_itself_shared_when_held(spool: PackageSpool) -> None:
    with (
        held_in_another_process(spool, "main_accounts", None),
        pytest.raises(SpoolError, match=r"main_accounts \(shared\)"),
        spool.slot("main_accounts", None, timeout=0.2),
    ):
        pytest.fail("the slot is held elsewhere")


# -- notes -----------------------------------------------------------------------------------


def test_a_noted_export_waits_for_its_package_and_survives_the_slot(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        export = slot.note(execution_id="D365A-Lines-0001", mode=RefreshMode.DELTA)
        assert export.path == slot.folder / "D365A-Lines-0001.zip"
        assert export.note == slot.folder / "D365A-Lines-0001.json"
        assert json.loads(export.note.read_text(encoding="utf-8")) == {
            "execution_id": "D365A-Lines-0001",
            "mode": "delta",
        }
        assert not export.downloaded
    with slot_of(spool) as later:
        assert later.pending() == [export]
        export.path.write_bytes(b"PK\x05\x06" + bytes(18))
        [downloaded] = later.pending()
    assert downloaded.downloaded
    assert downloaded.size_bytes == 22


def test_pending_exports_come_oldest_first(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        exports = {
            name: slot.note(execution_id=name, mode=mode)
            for name, mode in (
                ("a-full", RefreshMode.FULL),
                ("b-delta", RefreshMode.DELTA),
                ("c-delta", RefreshMode.DELTA),
            )
        }
        now = time.time()
        for age, name in enumerate(("b-delta", "c-delta", "a-full")):  # noted in this order
            os.utime(exports[name].note, (now - 100 + age, now - 100 + age))
        pending = slot.pending()
    assert [e.execution_id for e in pending] == ["b-delta", "c-delta", "a-full"]
    assert [e.mode for e in pending] == [RefreshMode.DELTA, RefreshMode.DELTA, RefreshMode.FULL]


def test_an_interrupted_download_is_cleared_so_it_restarts(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        export = slot.note(execution_id="D365A-Lines-0002", mode=RefreshMode.FULL)
        partial = export.path.with_suffix(".zip.part")
        partial.write_bytes(b"half a package")
        assert slot.pending() == [export]
        assert not partial.exists()
        assert not export.downloaded


@pytest.mark.parametrize("execution_id", ["../../../../x", "a/b", "", "x" * 300, "id with spaces"])
def test_an_execution_id_that_cannot_name_a_file_is_not_noted(
    spool: PackageSpool, tmp_path: Path, execution_id: str
) -> None:
    with slot_of(spool) as slot:
        with pytest.raises(SpoolError, match="cannot name a file safely"):
            slot.note(execution_id=execution_id, mode=RefreshMode.DELTA)
        assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [".refresh.lock", "scope.txt"]
        assert slot.pending() == []


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"mode": "delta"}),
        json.dumps({"execution_id": "another-export", "mode": "delta"}),
        json.dumps({"execution_id": "D365A-Lines-0003", "mode": "sometimes"}),
        json.dumps(["D365A-Lines-0003", "delta"]),
    ],
    ids=["not JSON", "no execution id", "another export's id", "unknown mode", "not an object"],
)
def test_an_unreadable_note_is_named_with_the_fix(spool: PackageSpool, content: str) -> None:
    with slot_of(spool) as slot:
        note = slot.folder / "D365A-Lines-0003.json"
        note.write_text(content, encoding="utf-8")
        with pytest.raises(SpoolError) as info:
            slot.pending()
    message = str(info.value)
    assert str(note) in message
    assert "delete it (and its .zip) and run the entity's reconcile job" in message
    assert note.read_text(encoding="utf-8") == content, "the note is left for a person to look at"


def test_a_loaded_export_is_forgotten(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        loaded = slot.note(execution_id="D365A-Lines-0004", mode=RefreshMode.DELTA)
        loaded.path.write_bytes(b"package")
        waiting = slot.note(execution_id="D365A-Lines-0005", mode=RefreshMode.DELTA)
        slot.remove(loaded)
        slot.remove(loaded)  # twice: nothing left to remove is fine
        assert not loaded.path.exists()
        assert not loaded.note.exists()
        assert slot.pending() == [waiting]


# -- set aside and reconcile -----------------------------------------------------------------


def test_a_full_export_set_aside_is_kept_with_its_reason(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        export = slot.note(execution_id="D365A-Lines-0006", mode=RefreshMode.FULL)
        export.path.write_bytes(b"damaged package")
        folder = slot.set_aside(export, reason="the package's CRC does not match")
        assert folder == slot.folder / "set_aside"
        kept = sorted(p.name for p in folder.iterdir())
        assert len(kept) == 3
        assert [name.split("-", 1)[1] for name in kept] == [
            "D365A-Lines-0006.json",
            "D365A-Lines-0006.reason.txt",
            "D365A-Lines-0006.zip",
        ]
        reason = next(folder.glob("*.reason.txt")).read_text(encoding="utf-8")
        assert reason == "the package's CRC does not match\n"
        assert next(folder.glob("*.zip")).read_bytes() == b"damaged package"
        assert slot.pending() == []
        assert slot.reconcile_reason is None, "a full export lost is no lost delta"


def test_a_delta_set_aside_makes_the_next_refresh_a_reconcile(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        export = slot.note(execution_id="D365A-Lines-0007", mode=RefreshMode.DELTA)  # never downloaded
        slot.set_aside(export, reason="discarded by the run tag d365/held_load=discard")
        assert slot.pending() == []
    with slot_of(spool) as later:
        assert later.reconcile_reason == (
            "delta D365A-Lines-0007 was set aside: discarded by the run tag d365/held_load=discard"
        )
        later.reconciled()
        assert later.reconcile_reason is None
    with slot_of(spool) as after:
        assert after.reconcile_reason is None
        after.reconciled()  # nothing to clear is fine


def test_a_required_reconcile_holds_per_table_and_company(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        assert slot.reconcile_reason is None
        slot.require_reconcile(reason="a delta was lost")
        slot.require_reconcile(reason="another delta was lost")
    with (
        slot_of(spool) as usmf,
        slot_of(spool, TABLE, "DEMF") as demf,
        slot_of(spool, "main_accounts", None) as shared,
    ):
        assert usmf.reconcile_reason == "another delta was lost"
        assert demf.reconcile_reason is None
        assert shared.reconcile_reason is None


# -- the last full load's request time ---------------------------------------------------------


def test_a_noted_export_keeps_when_it_was_requested(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        export = slot.note(
            execution_id="D365A-Lines-0010", mode=RefreshMode.FULL, requested_at=1_700_000_000.25
        )
        assert json.loads(export.note.read_text(encoding="utf-8"))["requested_at"] == 1_700_000_000.25
    with slot_of(spool) as later:
        assert later.pending() == [export]
        assert later.pending()[0].requested_at == 1_700_000_000.25


def test_a_note_without_its_request_time_reads_as_unknown(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        note = slot.folder / "D365A-Lines-0011.json"
        note.write_text(json.dumps({"execution_id": "D365A-Lines-0011", "mode": "full"}), encoding="utf-8")
        (pending,) = slot.pending()
        assert pending.requested_at is None
        note.write_text(
            json.dumps({"execution_id": "D365A-Lines-0011", "mode": "full", "requested_at": "yesterday"}),
            encoding="utf-8",
        )
        with pytest.raises(SpoolError, match="not a readable export note"):
            slot.pending()


def test_the_latest_full_load_request_is_kept_per_table_and_company(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        assert slot.last_full_requested_at is None
        slot.full_load_committed(requested_at=None)  # unknown: nothing kept
        assert slot.last_full_requested_at is None
        slot.full_load_committed(requested_at=200.5)
        slot.full_load_committed(requested_at=100.0)  # an older full load replayed late
        assert slot.last_full_requested_at == 200.5
    with slot_of(spool) as later:
        assert later.last_full_requested_at == 200.5
        later.full_load_committed(requested_at=300.0)
        assert later.last_full_requested_at == 300.0
    with slot_of(spool, company="DEMF") as other:
        assert other.last_full_requested_at is None


def test_an_unreadable_full_load_request_time_is_refused(spool: PackageSpool) -> None:
    with slot_of(spool) as slot:
        (slot.folder / ".last-full-requested").write_text("not a time\n", encoding="utf-8")
        with pytest.raises(SpoolError, match="is not a readable time; delete it"):
            _ = slot.last_full_requested_at
