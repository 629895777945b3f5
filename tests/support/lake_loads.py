"""Load requests for the lake's tests: every column type, F&O-like values, any rows, from any process.

``python -m tests.support.lake_loads <uri> <execution id> <rows>`` loads a slow full load of
``rows`` rows into the lake ``uri`` (Azurite's address and the account key from the environment),
printing ``streaming`` once the first batch is on its way: the kill-mid-load test kills it then.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal

import polars as pl

from d365_assets.lake import DeltaLake, LakeConfig
from d365_assets.loading import LoadGuard, LoadRequest
from d365_assets.schema import EntitySchema

__all__ = ["SCHEMA", "frame", "request", "slow_batches"]

SCHEMA = EntitySchema.of(
    [
        ("ACCOUNT", "string"),
        ("STATUS", "enum"),
        ("AMOUNT", "decimal"),
        ("BLOCKED", "noyes"),
        ("LINE", "integer"),
        ("DUE", "date"),
        ("MODIFIED", "datetime"),
    ]
)
_DTYPES = {
    "ACCOUNT": pl.String,
    "STATUS": pl.String,
    "AMOUNT": pl.Decimal(32, 6),
    "BLOCKED": pl.Boolean,
    "LINE": pl.Int64,
    "DUE": pl.Date,
    "MODIFIED": pl.Datetime("us"),
}
EXTREME = Decimal("12345678901234567890123456.654321")
"""26 integer digits and 6 places: as wide as DECIMAL(32,6) goes."""


def frame(accounts: Sequence[str], *, amount: Decimal = Decimal("1250.500000")) -> pl.DataFrame:
    """Rows keyed by ``accounts``: leading-zero codes, an exact amount (the extremes on the first
    rows), booleans, dates, timestamps and NULLs."""
    n = len(accounts)
    amounts = [EXTREME, Decimal("-1250.500000"), Decimal("0.000001"), *([amount] * n)][:n]
    return pl.DataFrame(
        {
            "ACCOUNT": list(accounts),
            "STATUS": [None if i % 5 == 4 else "Open" for i in range(n)],
            "AMOUNT": amounts,
            "BLOCKED": [i % 2 == 0 for i in range(n)],
            "LINE": [i + 1 for i in range(n)],
            "DUE": [
                None if i % 3 == 2 else dt.date(2026, 3, 1) + dt.timedelta(days=i % 300) for i in range(n)
            ],
            "MODIFIED": [
                dt.datetime(2026, 3, 1, 14, 5, 0, 123456) + dt.timedelta(seconds=i) for i in range(n)
            ],
        },
        schema=_DTYPES,
    )


def accounts(count: int, *, start: int = 0) -> list[str]:
    return [f"{i:06d}" for i in range(start, start + count)]


def request(
    batches: object,
    *,
    execution_id: str,
    company: str | None = "USMF",
    mode: str = "full",
    guard: LoadGuard | None = None,
    table: str = "vendors",
) -> LoadRequest:
    """A load of ``batches`` (frames of :data:`SCHEMA`, keyed by ACCOUNT) into ``table``."""
    return LoadRequest(
        entity="Vendors",
        table=table,
        schema=SCHEMA,
        batches=batches,  # type: ignore[arg-type]
        company=company,
        mode=mode,  # type: ignore[arg-type]
        natural_key=("ACCOUNT",),
        execution_id=execution_id,
        guard=guard or LoadGuard(),
    )


def slow_batches(rows: int, *, batch_rows: int = 2000, pause: float = 0.05) -> Iterator[pl.DataFrame]:
    """``rows`` rows in batches, pausing between them (a package read slowly), announcing the first."""
    for start in range(0, rows, batch_rows):
        yield frame(accounts(min(batch_rows, rows - start), start=start))
        if start == 0:
            print("streaming", flush=True)
        time.sleep(pause)


def _main(uri: str, execution_id: str, rows: int) -> None:
    config = LakeConfig(
        uri,
        account_name=os.environ.get("LAKE_ACCOUNT"),
        account_key=os.environ.get("LAKE_KEY"),
        azurite_url=os.environ.get("LAKE_AZURITE_URL"),
        max_retries=0,
    )
    lake = DeltaLake(config, target_file_size=256 * 1024)  # files reach Azurite long before the commit
    lake.load(request(slow_batches(rows), execution_id=execution_id))
    print("committed", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
