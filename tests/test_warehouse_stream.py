"""Frames into DuckDB as one Arrow stream, parsed ahead on a thread: order, counts, the producer's errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import duckdb
import polars as pl
import pytest

from d365_assets.schema import EntitySchema
from d365_assets.warehouse import LoadError
from d365_assets.warehouse.stream import BATCH_VIEW, insert_stream, prefetch

SCHEMA = EntitySchema.of([("ACCOUNT", "string"), ("LINE", "integer")])
INSERT = f"INSERT INTO lines SELECT * FROM {BATCH_VIEW}"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(":memory:") as connection:
        connection.execute("CREATE TABLE lines (ACCOUNT VARCHAR, LINE BIGINT)")
        yield connection


def lines(account: str, count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"ACCOUNT": [account] * count, "LINE": list(range(count))},
        schema={"ACCOUNT": pl.String, "LINE": pl.Int64},
    )


def test_every_batch_goes_in_with_one_statement_and_is_counted(con: duckdb.DuckDBPyConnection) -> None:
    batches = [lines("A", 3), lines("B", 0), lines("C", 2)]
    assert insert_stream(con, INSERT, [], prefetch(batches), SCHEMA) == 5
    assert con.execute("SELECT ACCOUNT, count(*) FROM lines GROUP BY ALL ORDER BY ALL").fetchall() == [
        ("A", 3),
        ("C", 2),
    ]


def test_no_batches_insert_nothing(con: duckdb.DuckDBPyConnection) -> None:
    assert insert_stream(con, INSERT, [], [], SCHEMA) == 0
    assert con.execute("SELECT count(*) FROM lines").fetchone() == (0,)


def test_a_producer_error_surfaces_as_itself_not_as_a_short_stream(con: duckdb.DuckDBPyConnection) -> None:
    def batches() -> Iterator[pl.DataFrame]:
        yield lines("A", 2)
        raise ValueError("line 3 of the package does not parse")

    with pytest.raises(ValueError, match="line 3 of the package does not parse"):
        insert_stream(con, INSERT, [], prefetch(batches()), SCHEMA)


def test_a_batch_of_the_wrong_width_is_refused_naming_both_widths(con: duckdb.DuckDBPyConnection) -> None:
    narrow = pl.DataFrame({"ACCOUNT": ["A"]})
    with pytest.raises(LoadError, match="a batch has 1 columns but the schema has 2"):
        insert_stream(con, INSERT, [], [lines("A", 1), narrow], SCHEMA)


def test_prefetch_keeps_order_and_stops_its_producer_when_the_consumer_stops() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def numbers() -> Iterator[int]:
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    ahead = prefetch(numbers(), depth=2)
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()
    assert closed.is_set(), "the producer's generator is closed before prefetch returns"
    assert len(produced) <= 5 + 2 + 1
