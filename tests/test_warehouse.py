"""The DuckDB loader on real database files: replace, upsert, ledger, schema drift, rollback and locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from d365_assets.schema import EntitySchema
from d365_assets.warehouse import LoadError, LoadGuard, LoadRequest, Warehouse, WarehouseLockedError

SCHEMA = EntitySchema.of([("ACCOUNT", "string"), ("AMOUNT", "decimal"), ("ACTIVE", "noyes")])


def frame(rows: list[tuple[str, str, bool]], schema: EntitySchema = SCHEMA) -> pl.DataFrame:
    polars_types = {"string": pl.String, "decimal": pl.Decimal(32, 6), "noyes": pl.Boolean}
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    data = {
        c.name: pl.Series(
            c.name, [Decimal(v) if c.type == "decimal" else v for v in values], polars_types[c.type]
        )
        for c, values in zip(schema, columns, strict=True)
    }
    return pl.DataFrame(data)


def load(warehouse: Warehouse, rows, *, company="USMF", mode="full", execution_id="e1", schema=SCHEMA, **kw):
    return warehouse.load(
        LoadRequest(
            entity="Accounts",
            table="accounts",
            schema=schema,
            batches=kw.pop("batches", None) or [frame(rows, schema)],
            company=company,
            mode=mode,
            natural_key=["ACCOUNT"],
            execution_id=execution_id,
            **kw,
        )
    )


def table(warehouse: Warehouse) -> list[tuple]:
    with warehouse.connect(read_only=True) as con:
        return con.execute("SELECT * EXCLUDE (_loaded_at) FROM d365.accounts ORDER BY ALL").fetchall()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "warehouse.duckdb", lock_timeout=5)


def test_full_load_replaces_only_that_company(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1.5", True), ("002", "2", False)], execution_id="u1")
    load(warehouse, [("001", "7", True)], company="DEMF", execution_id="d1")
    result = load(warehouse, [("002", "3.25", True), ("003", "0.000001", False)], execution_id="u2")
    assert (result.rows_read, result.rows_inserted, result.rows_updated, result.rows_deleted) == (2, 1, 1, 1)
    assert (result.company_rows, result.table_rows, result.duplicate_keys) == (2, 3, 0)
    assert table(warehouse) == [
        ("DEMF", "001", Decimal("7.000000"), True, "d1"),
        ("USMF", "002", Decimal("3.250000"), True, "u2"),
        ("USMF", "003", Decimal("0.000001"), False, "u2"),
    ]
    assert ("DATAAREAID", "VARCHAR") in result.columns
    assert ("AMOUNT", "DECIMAL(32,6)") in result.columns


def numbered(keys: range, amount: int) -> pl.DataFrame:
    """One row per key (zero-padded), all with ``amount``."""
    key = pl.Series("ACCOUNT", keys, pl.Int64)
    return pl.DataFrame(
        {
            "ACCOUNT": key.cast(pl.String).str.zfill(7),
            "AMOUNT": pl.Series("AMOUNT", [amount] * len(keys)).cast(pl.Decimal(32, 6)),
            "ACTIVE": pl.Series("ACTIVE", [True] * len(keys), pl.Boolean),
        }
    )


def test_a_delta_scattered_over_many_row_groups_replaces_exactly_its_rows(warehouse: Warehouse) -> None:
    """Updates spread over a table larger than DuckDB's row groups (122,880 rows): the DELETE's own count
    is the updated rows, and the other company's rows with the same keys stay as they were."""
    size = 300_000
    load(warehouse, [], batches=[numbered(range(size), 1)], execution_id="u1")
    load(warehouse, [], company="DEMF", batches=[numbered(range(size), 2)], execution_id="d1")
    changed = range(0, size + 700, 7)  # every 7th key, and 100 new ones past the end
    result = load(warehouse, [], mode="delta", batches=[numbered(changed, 3)], execution_id="u2")
    new = sum(1 for k in changed if k >= size)
    assert (result.rows_read, result.rows_inserted, result.rows_updated, result.rows_deleted) == (
        len(changed), new, len(changed) - new, 0,
    )  # fmt: skip
    assert (result.company_rows, result.table_rows) == (size + new, 2 * size + new)
    with warehouse.connect(read_only=True) as con:
        sums = con.execute(
            "SELECT DATAAREAID, _execution_id, count(*), sum(AMOUNT) FROM d365.accounts "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert sums == [
        ("DEMF", "d1", size, Decimal(2 * size)),
        ("USMF", "u1", size - (len(changed) - new), Decimal(size - (len(changed) - new))),
        ("USMF", "u2", len(changed), Decimal(3 * len(changed))),
    ]


def test_delta_upserts_on_company_and_key(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True), ("002", "2", True)], execution_id="u1")
    load(warehouse, [("002", "5", True)], company="DEMF", execution_id="d1")
    result = load(warehouse, [("002", "9", False), ("004", "4", True)], mode="delta", execution_id="u2")
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (1, 1, 0)
    assert table(warehouse) == [
        ("DEMF", "002", Decimal("5.000000"), True, "d1"),
        ("USMF", "001", Decimal("1.000000"), True, "u1"),
        ("USMF", "002", Decimal("9.000000"), False, "u2"),
        ("USMF", "004", Decimal("4.000000"), True, "u2"),
    ]


def test_an_execution_is_never_applied_twice(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True)], mode="delta", execution_id="x1")
    again = load(warehouse, [("001", "99", False)], mode="delta", execution_id="x1")
    assert not again.applied
    assert again.rows_read == 0
    assert table(warehouse) == [("USMF", "001", Decimal("1.000000"), True, "x1")]
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM d365._load_ledger").fetchone() == (1,)


def test_duplicate_keys_in_a_delta_are_refused_without_change(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True)], execution_id="u1")
    before = table(warehouse)
    repeated = r"1 natural key\(s\) \(ACCOUNT\) occur more than once, e.g. '002' \(2 times\)"
    with pytest.raises(LoadError, match=repeated):
        load(warehouse, [("002", "1", True), ("002", "2", True)], mode="delta", execution_id="u2")
    assert table(warehouse) == before


def test_a_failing_load_leaves_the_table_exactly_as_it_was(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True), ("002", "2", True)], execution_id="u1")
    before = table(warehouse)

    def broken_batches() -> Iterator[pl.DataFrame]:
        yield frame([("003", "3", True)])
        raise ValueError("row 2 of the package does not parse")

    with pytest.raises(ValueError, match="does not parse"):
        load(warehouse, [], execution_id="u2", batches=broken_batches())
    assert table(warehouse) == before
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT execution_id FROM d365._load_ledger").fetchall() == [("u1",)]


def test_new_upstream_column_is_added_and_dropped_ones_stay_null(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True)], execution_id="u1")
    wider = EntitySchema.of(
        [("ACCOUNT", "string"), ("AMOUNT", "decimal"), ("ACTIVE", "noyes"), ("NOTE", "string")]
    )
    polars_frame = frame([("002", "2", False)]).with_columns(pl.lit("new").alias("NOTE"))
    result = load(warehouse, [], schema=wider, batches=[polars_frame], mode="delta", execution_id="u2")
    assert result.added_columns == ("NOTE",)
    narrower = EntitySchema.of([("ACCOUNT", "string"), ("ACTIVE", "noyes")])
    narrow_frame = pl.DataFrame({"ACCOUNT": ["003"], "ACTIVE": [True]})
    load(warehouse, [], schema=narrower, batches=[narrow_frame], mode="delta", execution_id="u3")
    assert table(warehouse) == [
        ("USMF", "001", Decimal("1.000000"), True, "u1", None),
        ("USMF", "002", Decimal("2.000000"), False, "u2", "new"),
        ("USMF", "003", None, True, "u3", None),
    ]


def _hold_file(path: Path, seconds: float) -> subprocess.Popen:
    code = f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("holding", flush=True)
        time.sleep({seconds})
    """
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_load_waits_for_a_reader_to_let_go(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True)], execution_id="u1")
    holder = _hold_file(Path(warehouse.database), seconds=1.5)
    started = time.monotonic()
    result = load(warehouse, [("001", "1", True), ("002", "2", True)], execution_id="u2")
    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert result.applied
    assert waited >= 0.5
    assert [row[1] for row in table(warehouse)] == ["001", "002"]


def test_a_load_times_out_naming_the_holder_and_changes_nothing(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb", lock_timeout=1)
    load(warehouse, [("001", "1", True)], execution_id="u1")
    holder = _hold_file(Path(warehouse.database), seconds=30)
    try:
        with pytest.raises(
            WarehouseLockedError, match=rf"held open by .*\(PID {holder.pid}\).*Nothing was changed"
        ):
            load(warehouse, [("002", "2", True)], execution_id="u2")
    finally:
        holder.kill()
        holder.wait()
    assert table(warehouse) == [("USMF", "001", Decimal("1.000000"), True, "u1")]


def test_a_load_killed_midway_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb", lock_timeout=5)
    load(warehouse, [("001", "1", True)], execution_id="u1")
    before = table(warehouse)
    code = f"""
        import sys, time
        import polars as pl
        from decimal import Decimal
        from d365_assets.schema import EntitySchema
        from d365_assets.warehouse import LoadRequest, Warehouse
        schema = EntitySchema.of([("ACCOUNT", "string"), ("AMOUNT", "decimal"), ("ACTIVE", "noyes")])
        def batches():
            for i in range(1000):
                types = {{"ACCOUNT": pl.String, "AMOUNT": pl.Decimal(32, 6), "ACTIVE": pl.Boolean}}
                row = {{"ACCOUNT": [f"{{i:05d}}"], "AMOUNT": [Decimal("1")], "ACTIVE": [True]}}
                yield pl.DataFrame(row, schema=types)
                if i == 10:
                    print("loading", flush=True)
                time.sleep(0.05)
        Warehouse({str(warehouse.database)!r}).load(LoadRequest(entity="Accounts", table="accounts",
            schema=schema, batches=batches(), company="USMF", mode="full", natural_key=["ACCOUNT"],
            execution_id="killed"))
    """
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "loading"
    process.kill()
    process.wait(timeout=10)
    assert table(warehouse) == before
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        assert con.execute("SELECT execution_id FROM d365._load_ledger").fetchall() == [("u1",)]


def test_a_full_load_in_many_batches_counts_like_one(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True), ("002", "2", True), ("003", "3", True)], execution_id="u1")
    batches = [frame([("002", "20", False)]), frame([]), frame([("004", "4", True), ("005", "5", True)])]
    result = load(warehouse, [], execution_id="u2", batches=batches, guard=LoadGuard(max_removed_share=1.0))
    assert (result.rows_read, result.rows_inserted, result.rows_updated, result.rows_deleted) == (3, 2, 1, 2)
    assert (result.company_rows, result.table_rows, result.duplicate_keys) == (3, 3, 0)
    assert [row[1] for row in table(warehouse)] == ["002", "004", "005"]


def test_a_bad_batch_mid_stream_stops_the_load_without_change(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True)], execution_id="u1")
    before = table(warehouse)
    produced = []

    def batches() -> Iterator[pl.DataFrame]:
        for i in range(100):
            produced.append(i)
            yield frame([(f"{i:03d}", "1", True)]) if i != 2 else pl.DataFrame({"ACCOUNT": ["x"]})

    with pytest.raises(LoadError, match="a batch has 1 columns"):
        load(warehouse, [], execution_id="u2", batches=batches())
    assert table(warehouse) == before
    assert len(produced) < 10


def test_a_column_whose_type_changed_is_refused_with_the_fix(warehouse: Warehouse) -> None:
    load(warehouse, [("001", "1", True)], execution_id="u1")
    before = table(warehouse)
    retyped = EntitySchema.of([("ACCOUNT", "string"), ("AMOUNT", "string"), ("ACTIVE", "noyes")])
    as_text = pl.DataFrame({"ACCOUNT": ["002"], "AMOUNT": ["2.5"], "ACTIVE": [True]})
    expected = (
        r"column AMOUNT of d365.accounts is DECIMAL\(32,6\) but the schema now says VARCHAR"
        r'.*ALTER TABLE d365.accounts ALTER COLUMN "AMOUNT" TYPE VARCHAR'
    )
    with pytest.raises(LoadError, match=expected):
        load(warehouse, [], schema=retyped, batches=[as_text], execution_id="u2")
    assert table(warehouse) == before


@pytest.mark.parametrize(
    ("database", "local"),
    [
        ("data/warehouse.duckdb", True),
        ("/srv/warehouse.duckdb", True),
        ("C:\\warehouse.duckdb", True),
        ("md:analytics", False),
        ("motherduck:analytics", False),
        ("s3://bucket/warehouse.duckdb", False),
        (":memory:", False),
    ],
)
def test_file_paths_and_connection_strings(database: str, local: bool) -> None:
    from d365_assets.settings import Settings
    from d365_assets.warehouse import is_local_file

    assert is_local_file(database) is local
    resolved = Settings(duckdb_path=database).resolved_duckdb_path()
    assert (resolved == database) is (not local) or database.startswith("/srv")
