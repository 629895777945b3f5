"""Nothing that arrives replaces good rows with bad ones: hostile entity files through the real path.

Each test loads real rows from the emulator, leaves a rewritten package in the spool, and runs the
next refresh (spool -> reader -> loader): the error names the problem and the fix, and the table
and the load ledger are exactly as they were.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from d365_assets.catalog import EntityConfig
from d365_assets.emulator import Emulator
from d365_assets.package import EmptyEntityFileError
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import RefreshMode
from d365_assets.spool import SpoolError
from d365_assets.warehouse import LoadGuard, RemovalHeldError, Warehouse, WarehouseFileError
from tests.hostile import EntityText, export_real_package, rewrite_entity_file, spool_as_pending, table_state
from tests.support.catalog import catalog_entity
from tests.support.environment import client_for
from tests.support.refreshing import refresh_from, spool_in
from tests.support.tables import source_rows, table_rows

VENDORS = catalog_entity("VendorsV2")
CUSTOMERS = catalog_entity("CustomersV3")
PO_LINES = catalog_entity("PurchaseOrderLinesV2")


class Bench:
    """A warehouse, a spool and a client of one emulator, for one table and company."""

    def __init__(self, tmp_path: Path, emulator: Emulator) -> None:
        self.tmp_path = tmp_path
        self.emulator = emulator
        self.database = tmp_path / "warehouse.duckdb"
        self.spool = spool_in(tmp_path)

    def refresh(self, entity: EntityConfig, **kwargs: object) -> RefreshOutcome:
        return refresh_from(self.emulator, self.database.parent, entity, lock_timeout=10, **kwargs)

    def hostile(
        self, entity: EntityConfig, change: Callable[[EntityText], bytes], *, mode: str = "full"
    ) -> Path:
        """A real package of ``entity`` with its file changed, left in the spool for the next refresh."""
        with client_for(self.emulator) as client:
            real = export_real_package(client, entity, "USMF", self.tmp_path / "real")
        changed = rewrite_entity_file(real, entity, self.tmp_path / "hostile.zip", change)
        return spool_as_pending(
            self.spool, entity, "USMF", changed, execution_id=f"hostile-{entity.table_name}", mode=mode
        ).path

    def state(self, entity: EntityConfig) -> tuple[str, str]:
        return table_state(self.database, entity.table_name)


@pytest.fixture
def bench(tmp_path: Path, emulator: Emulator) -> Bench:
    bench = Bench(tmp_path, emulator)
    bench.refresh(VENDORS)
    return bench


def without_column(name: str) -> Callable[[EntityText], bytes]:
    def change(file: EntityText) -> bytes:
        index = file.rows[0].index(name)
        return file.encode([row[:index] + row[index + 1 :] for row in file.rows])

    return change


def renamed(name: str, to: str) -> Callable[[EntityText], bytes]:
    def change(file: EntityText) -> bytes:
        return file.encode([[to if c == name else c for c in file.rows[0]], *file.rows[1:]])

    return change


def refused(bench: Bench, entity: EntityConfig, match: str, error: type[Exception] = SpoolError) -> None:
    """The next refresh fails with ``error`` matching ``match``, and the table and ledger are untouched."""
    before = bench.state(entity)
    with pytest.raises(error, match=match):
        bench.refresh(entity)
    assert bench.state(entity) == before


@pytest.mark.parametrize(
    "change",
    [without_column("VENDORACCOUNTNUMBER"), renamed("VENDORACCOUNTNUMBER", "VENDORACCOUNT")],
    ids=["key column dropped", "key column renamed"],
)
def test_a_file_without_its_key_column_is_refused(
    bench: Bench, change: Callable[[EntityText], bytes]
) -> None:
    bench.hostile(VENDORS, change)
    refused(bench, VENDORS, r"lacks natural-key column\(s\) VENDORACCOUNTNUMBER.*Map the key fields")
    columns = [
        c
        for c, *_ in duckdb.connect(str(bench.database), read_only=True)
        .sql("DESCRIBE d365.vendors_v2")
        .fetchall()
    ]
    assert "VENDORACCOUNT" not in columns, "no column of the refused file was added"


def test_another_entitys_file_is_refused(bench: Bench, emulator: Emulator) -> None:
    with client_for(emulator) as client:
        customers = export_real_package(client, CUSTOMERS, "USMF", bench.tmp_path / "customers")
    foreign = EntityText.decode(_member_bytes(customers, CUSTOMERS))
    bench.hostile(
        VENDORS,
        lambda _file: foreign.encode(
            [
                ["VENDORACCOUNTNUMBER", *foreign.rows[0]],
                *[["V" + str(i), *row] for i, row in enumerate(foreign.rows[1:])],
            ]
        ),
    )
    refused(bench, VENDORS, r"carries only \d+ of the 14 columns the catalog declares.*another entity.s file")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyEntityFileError),  # no rows: held until accepted on purpose
        (codecs.BOM_UTF16_LE, EmptyEntityFileError),
        (codecs.BOM_UTF16_LE + "\r\n".encode("utf-16-le"), SpoolError),  # malformed: never accepted
    ],
    ids=["zero bytes", "BOM only", "one blank line"],
)
def test_an_empty_file_never_empties_the_company(bench: Bench, data: bytes, error: type[Exception]) -> None:
    bench.hostile(VENDORS, lambda _file: data)
    refused(bench, VENDORS, r"(has no header row|the header row, is empty).*export it again", error)


def test_repeated_keys_in_a_full_load_are_refused(bench: Bench) -> None:
    bench.hostile(VENDORS, lambda file: file.encode([*file.rows, file.rows[1], file.rows[2]]))
    refused(bench, VENDORS, r"2 natural key\(s\) \(VENDORACCOUNTNUMBER\) occur more than once")


def test_a_null_key_is_refused(tmp_path: Path, emulator: Emulator) -> None:
    bench = Bench(tmp_path, emulator)
    bench.refresh(PO_LINES, mode=RefreshMode.FULL)

    def blank_line_number(file: EntityText) -> bytes:
        index = file.rows[0].index("LINENUMBER")
        first = list(file.rows[1])
        first[index] = ""
        return file.encode([file.rows[0], first, *file.rows[2:]])

    bench.hostile(PO_LINES, blank_line_number, mode="delta")
    refused(
        bench,
        PO_LINES,
        r"1 row\(s\) have no value in natural-key column\(s\) PURCHASEORDERNUMBER, LINENUMBER",
    )


@pytest.mark.parametrize("column", ["DATAAREAID", "_execution_id", "_LOADED_AT"])
def test_a_file_column_named_as_the_loaders_own_is_refused(bench: Bench, column: str) -> None:
    bench.hostile(
        VENDORS, lambda file: file.encode([[*file.rows[0], column], *[[*row, "x"] for row in file.rows[1:]]])
    )
    refused(bench, VENDORS, rf"has column\(s\) {column}, which the loader adds itself.*Remove them")


def test_a_full_load_removing_most_rows_is_held_until_accepted(bench: Bench) -> None:
    held = bench.hostile(VENDORS, lambda file: file.encode(file.rows[:3]))
    before = bench.state(VENDORS)
    with pytest.raises(RemovalHeldError, match=r"would remove \d+ of the \d+ rows .* above the 50% allowed"):
        bench.refresh(VENDORS)
    assert bench.state(VENDORS) == before
    assert held.exists(), "a held export stays in the spool"
    with pytest.raises(RemovalHeldError):
        bench.refresh(VENDORS)  # held again: nothing is exported meanwhile

    outcome = bench.refresh(VENDORS, guard=LoadGuard(accept_removal=True))
    assert [r.execution_id for r in outcome.replayed] == ["hostile-vendors_v2"]
    assert outcome.replayed[0].company_rows == 2
    assert table_rows(bench.database, VENDORS, "USMF") == source_rows(bench.emulator, VENDORS, "USMF"), (
        "after the accepted load, this refresh's own export restored the real rows"
    )


def test_a_legitimately_empty_entity_loads_when_accepted(bench: Bench) -> None:
    bench.hostile(VENDORS, lambda file: file.encode(file.rows[:1]))
    with pytest.raises(RemovalHeldError, match=r"\(100%, above the 50% allowed\)"):
        bench.refresh(VENDORS)
    outcome = bench.refresh(VENDORS, guard=LoadGuard(accept_removal=True))
    assert outcome.replayed[0].company_rows == 0


def test_a_held_load_can_be_discarded_and_is_kept_aside(bench: Bench) -> None:
    held = bench.hostile(VENDORS, lambda file: file.encode(file.rows[:3]))
    outcome = bench.refresh(VENDORS, discard_held=True)
    assert outcome.replayed == ()
    assert not held.exists()
    [aside] = held.parent.glob("set_aside/*-hostile-vendors_v2.zip")
    assert list(held.parent.glob("set_aside/*.reason.txt"))
    assert aside.stat().st_size > 0
    assert table_rows(bench.database, VENDORS, "USMF") == source_rows(bench.emulator, VENDORS, "USMF")


def test_a_discarded_delta_makes_every_refresh_a_reconcile_until_a_full_load_commits(
    tmp_path: Path, emulator: Emulator
) -> None:
    bench = Bench(tmp_path, emulator)
    bench.refresh(PO_LINES, mode=RefreshMode.FULL)
    bench.hostile(PO_LINES, lambda file: file.encode([*file.rows, file.rows[1]]), mode="delta")
    with pytest.raises(SpoolError, match="occur more than once"):
        bench.refresh(PO_LINES)
    emulator.advance_activity(1)
    outcome = bench.refresh(PO_LINES, discard_held=True)
    assert outcome.mode is RefreshMode.FULL, "the discarded delta is lost: only a full export is whole"
    assert table_rows(bench.database, PO_LINES, "USMF") == source_rows(emulator, PO_LINES, "USMF")
    with bench.spool.slot(PO_LINES.table_name, "USMF", timeout=10) as slot:
        assert slot.reconcile_reason is None
    assert bench.refresh(PO_LINES).mode is RefreshMode.DELTA


def test_an_empty_delta_file_carries_no_changes(tmp_path: Path, emulator: Emulator) -> None:
    bench = Bench(tmp_path, emulator)
    bench.refresh(PO_LINES, mode=RefreshMode.FULL)
    rows_before = table_rows(bench.database, PO_LINES, "USMF")
    bench.hostile(PO_LINES, lambda _file: b"", mode="delta")
    outcome = bench.refresh(PO_LINES)
    [empty] = outcome.replayed
    assert (empty.applied, empty.rows_read) == (True, 0), "recorded in the ledger, nothing changed"
    assert table_rows(bench.database, PO_LINES, "USMF") == rows_before


def test_the_first_error_is_reported_not_the_clean_ups(bench: Bench) -> None:
    with duckdb.connect(str(bench.database)) as con:
        con.execute("ALTER TABLE d365.vendors_v2 ADD COLUMN NOTE VARCHAR")
        con.execute("CREATE UNIQUE INDEX vendors_note ON d365.vendors_v2 (NOTE)")
    bench.hostile(
        VENDORS,
        lambda file: file.encode([[*file.rows[0], "NOTE"], *[[*row, "same"] for row in file.rows[1:]]]),
    )
    refused(bench, VENDORS, r"DuckDB refused the load into d365\.vendors_v2 .*(?i:constraint|duplicate key)")
    assert "transaction is aborted" not in _last_error(bench)
    assert "no transaction is active" not in _last_error(bench)


def _last_error(bench: Bench) -> str:
    try:
        bench.refresh(VENDORS)
    except SpoolError as exc:
        return str(exc)
    raise AssertionError("the refresh should have failed")


def _member_bytes(package: Path, entity: EntityConfig) -> bytes:
    import zipfile

    from tests.hostile import entity_member

    with zipfile.ZipFile(package) as archive:
        return archive.read(entity_member(package, entity))


@pytest.mark.parametrize("damage", ["garbage header", "truncated"])
def test_a_damaged_warehouse_file_is_named_with_the_way_out(bench: Bench, damage: str) -> None:
    with bench.database.open("r+b") as file:
        if damage == "truncated":
            file.truncate(bench.database.stat().st_size // 2)
        else:
            file.write(b"not a duckdb file" * 64)
    evidence = bench.database.read_bytes()
    with pytest.raises(WarehouseFileError, match=rf"DuckDB database {bench.database}: .*move it aside"):
        bench.refresh(VENDORS)
    assert bench.database.read_bytes() == evidence, "the damaged file is left for inspection"

    summary = subprocess.run(
        [sys.executable, "-m", "d365_assets.cli", "summary"],
        env={**os.environ, "D365_DUCKDB_PATH": str(bench.database)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in summary.stderr
    assert f"Cannot read the warehouse: DuckDB database {bench.database}" in summary.stderr
    assert "move it aside" in summary.stderr


def test_a_warehouse_path_that_cannot_be_a_folder_is_explained(bench: Bench, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    warehouse = Warehouse(blocker / "warehouse.duckdb")
    with (
        pytest.raises(
            WarehouseFileError, match=r"its folder cannot be created .*point D365_DUCKDB_PATH elsewhere"
        ),
        warehouse.connect(),
    ):
        pass
