"""A delta's result on real DuckDB files: the row counts it derives inside its transaction are the
rows a reader counts afterwards, in every table shape and after changes made outside the loader."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from d365_assets.schema import EntitySchema
from d365_assets.warehouse import LoadError, LoadRequest, LoadResult, Warehouse

SCHEMA = EntitySchema.of([("ACCOUNT", "string"), ("AMOUNT", "integer")])


def rows(keys: range, amount: int) -> pl.DataFrame:
    """One row per key (zero-padded to 6 digits), all with ``amount``."""
    return pl.DataFrame(
        {
            "ACCOUNT": pl.Series(keys, dtype=pl.Int64).cast(pl.String).str.zfill(6),
            "AMOUNT": pl.Series([amount] * len(keys), dtype=pl.Int64),
        }
    )


def load(
    warehouse: Warehouse, keys: range, *, amount: int, execution_id: str, company: str | None = "USMF",
    mode: str = "delta",
) -> LoadResult:  # fmt: skip
    return warehouse.load(
        LoadRequest(
            entity="Accounts",
            table="accounts",
            schema=SCHEMA,
            batches=[rows(keys, amount)],
            company=company,
            mode=mode,
            natural_key=["ACCOUNT"],
            execution_id=execution_id,
        )
    )


def counted(warehouse: Warehouse, company: str | None) -> tuple[int, int]:
    """(the company's rows, the table's rows) as a separate read-only connection counts them."""
    with duckdb.connect(warehouse.database, read_only=True) as con:
        table = con.execute("SELECT count(*) FROM d365.accounts").fetchone()[0]
        if company is None:
            return table, table
        mine = con.execute("SELECT count(*) FROM d365.accounts WHERE DATAAREAID = ?", [company]).fetchone()
        return mine[0], table


def reported(result: LoadResult) -> tuple[int, int]:
    return result.company_rows, result.table_rows


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "warehouse.duckdb", lock_timeout=5)


def test_a_first_delta_creates_the_table_and_counts_its_rows(warehouse: Warehouse) -> None:
    result = load(warehouse, range(50), amount=1, execution_id="u1")
    assert (result.rows_inserted, result.rows_updated) == (50, 0)
    assert reported(result) == counted(warehouse, "USMF") == (50, 50)


def test_deltas_of_two_companies_report_what_a_reader_counts(warehouse: Warehouse) -> None:
    """Updates, inserts and both, one company after the other, in a table of two companies."""
    load(warehouse, range(1000), amount=1, execution_id="u0", mode="full")
    load(warehouse, range(600), amount=1, execution_id="d0", company="DEMF", mode="full")
    steps = [
        ("USMF", range(0, 1000, 9), "u1"),  # updates only
        ("DEMF", range(500, 800), "d1"),  # 100 updates, 200 inserts
        ("USMF", range(1000, 1010), "u2"),  # inserts only
        ("USMF", range(995, 1030), "u3"),  # updates of old and of just inserted rows, and inserts
    ]
    for company, keys, execution_id in steps:
        result = load(warehouse, keys, amount=2, execution_id=execution_id, company=company)
        assert reported(result) == counted(warehouse, company), execution_id
    assert counted(warehouse, "USMF") == (1030, 1830)
    assert counted(warehouse, "DEMF") == (800, 1830)


def test_a_shared_table_counts_every_row_once(warehouse: Warehouse) -> None:
    load(warehouse, range(300), amount=1, execution_id="s0", company=None, mode="full")
    result = load(warehouse, range(250, 400), amount=2, execution_id="s1", company=None)
    assert (result.rows_inserted, result.rows_updated) == (100, 50)
    assert reported(result) == counted(warehouse, None) == (400, 400)


def test_counts_stay_exact_after_rows_were_changed_outside_the_loader(warehouse: Warehouse) -> None:
    """Nothing is carried over from an earlier load: an analyst's DELETE and INSERT between two deltas
    show in the next delta's counts."""
    load(warehouse, range(500), amount=1, execution_id="u0", mode="full")
    with duckdb.connect(warehouse.database) as con:
        con.execute("DELETE FROM d365.accounts WHERE ACCOUNT < '000100'")
        con.execute("INSERT INTO d365.accounts (DATAAREAID, ACCOUNT, AMOUNT) VALUES ('DEMF', 'x', 0)")
    result = load(warehouse, range(50, 150), amount=2, execution_id="u1")
    assert (result.rows_inserted, result.rows_updated) == (50, 50)
    assert reported(result) == counted(warehouse, "USMF") == (450, 451)


def test_an_execution_seen_before_reports_the_table_as_it_is(warehouse: Warehouse) -> None:
    first = load(warehouse, range(20), amount=1, execution_id="u1")
    with duckdb.connect(warehouse.database) as con:
        con.execute("DELETE FROM d365.accounts WHERE ACCOUNT = '000000'")
    again = load(warehouse, range(20), amount=1, execution_id="u1")
    assert not again.applied
    assert reported(first) == (20, 20)
    assert reported(again) == counted(warehouse, "USMF") == (19, 19)


def test_a_refused_delta_leaves_the_table_and_its_counts_as_they_were(warehouse: Warehouse) -> None:
    load(warehouse, range(100), amount=1, execution_id="u0", mode="full")
    repeated = pl.concat([rows(range(10), 2), rows(range(5), 3)])
    with pytest.raises(LoadError, match="occur more than once"):
        warehouse.load(
            LoadRequest(
                entity="Accounts", table="accounts", schema=SCHEMA, batches=[repeated], company="USMF",
                mode="delta", natural_key=["ACCOUNT"], execution_id="u1",
            )
        )  # fmt: skip
    assert counted(warehouse, "USMF") == (100, 100)
    result = load(warehouse, range(95, 105), amount=2, execution_id="u2")
    assert reported(result) == counted(warehouse, "USMF") == (105, 105)
