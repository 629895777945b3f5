"""docs/queries.sql answers the same questions as F&O's own data, computed here in Python."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from d365_assets.definitions import build_definitions
from d365_assets.emulator import Emulator, EmulatorConfig
from tests.support.catalog import CATALOG
from tests.support.environment import TEST_ROWS, embedded_settings

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "docs" / "queries.sql"
TOP_VENDORS = 10

Row = tuple[Any, ...]


def load_queries(path: Path = QUERIES) -> dict[str, str]:
    """The named queries of a SQL file: each starts at a ``-- name: <name>`` line and ends with ``;``."""
    queries: dict[str, str] = {}
    for block in path.read_text(encoding="utf-8").split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        queries[name.strip()] = body.strip().removesuffix(";")
    return queries


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Emulator]:
    """Every entity for every company loaded through the main job into a fresh DuckDB file."""
    folder = tmp_path_factory.mktemp("queries")
    emulator = Emulator(state_dir=folder / "emulator", config=EmulatorConfig(rows=TEST_ROWS))
    settings = embedded_settings(emulator, folder)
    with dg.instance_for_test() as instance:
        job = build_definitions(settings).resolve_job_def("d365_refresh_all")
        for company in CATALOG.companies:
            result = job.execute_in_process(instance=instance, partition_key=company, raise_on_error=False)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
    return Path(settings.duckdb_path), emulator


def run_query(database: Path, name: str) -> list[Row]:
    """Rows of the named query of docs/queries.sql, run read-only."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(load_queries()[name]).fetchall()


def by_company(emulator: Emulator, entity: str) -> dict[str, list[dict[str, Any]]]:
    """Source rows of a company-specific entity, per company."""
    return {company: emulator.source_rows(entity, company) for company in CATALOG.companies}


def test_queries_file_names_three_questions() -> None:
    """Three named queries; splitting on ``;`` (the README's one-liner) gives exactly those three."""
    queries = load_queries()
    assert list(queries) == [
        "open_sales_by_customer",
        "gl_balance_by_main_account",
        "top_vendors_by_purchase_amount",
    ]
    statements = QUERIES.read_text(encoding="utf-8").split(";")
    assert not statements[-1].strip(), "nothing after the last statement"
    assert [s.split("-- name: ")[1].partition("\n")[0] for s in statements[:-1]] == list(queries)


def test_open_sales_by_customer(warehouse: tuple[Path, Emulator]) -> None:
    database, emulator = warehouse
    headers, lines = by_company(emulator, "SalesOrderHeadersV2"), by_company(emulator, "SalesOrderLinesV2")
    customers = by_company(emulator, "CustomersV3")
    totals: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"orders": set(), "lines": 0, "amount": Decimal(0), "currency": None}
    )
    for company in CATALOG.companies:
        orders = {h["SALESORDERNUMBER"]: h for h in headers[company] if h["SALESORDERSTATUS"] == "Backorder"}
        for line in lines[company]:
            header = orders.get(line["SALESORDERNUMBER"])
            if header is None or line["SALESORDERLINESTATUS"] != "Backorder":
                continue
            total = totals[company, header["ORDERINGCUSTOMERACCOUNTNUMBER"]]
            total["orders"].add(header["SALESORDERNUMBER"])
            total["lines"] += 1
            total["amount"] += line["LINEAMOUNT"]
            total["currency"] = line["CURRENCYCODE"]
    names = {(c, r["CUSTOMERACCOUNT"]): r["ORGANIZATIONNAME"] for c in customers for r in customers[c]}
    expected = sorted(
        (
            (
                company,
                account,
                names.get((company, account)),
                len(t["orders"]),
                t["lines"],
                t["amount"],
                t["currency"],
            )
            for (company, account), t in totals.items()
        ),
        key=lambda row: (row[0], -row[5], row[1]),
    )
    assert len({row[0] for row in expected}) == len(CATALOG.companies), "open sales in every company"
    assert len(expected) > 20, "a non-trivial answer"
    assert run_query(database, "open_sales_by_customer") == expected


def test_gl_balance_by_main_account(warehouse: tuple[Path, Emulator]) -> None:
    database, emulator = warehouse
    entries = by_company(emulator, "GeneralJournalAccountEntries")
    accounts = {a["MAINACCOUNTID"]: a for a in emulator.source_rows("MainAccounts", None)}
    balances: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for company, rows in entries.items():
        for entry in rows:
            if entry["POSTINGLAYER"] == "Current":
                balance = balances[company, entry["MAINACCOUNT"]]
                balance[0] += 1
                balance[1] += entry["ACCOUNTINGCURRENCYAMOUNT"]
    expected = sorted(
        (company, account, accounts[account]["NAME"], accounts[account]["MAINACCOUNTTYPE"], count, amount)
        for (company, account), (count, amount) in balances.items()
    )
    assert all(row[2] for row in expected), "every posted main account is in the chart of accounts"
    assert len(expected) > 100
    assert run_query(database, "gl_balance_by_main_account") == expected


def test_top_vendors_by_purchase_amount(warehouse: tuple[Path, Emulator]) -> None:
    database, emulator = warehouse
    headers, lines = (
        by_company(emulator, "PurchaseOrderHeadersV2"),
        by_company(emulator, "PurchaseOrderLinesV2"),
    )
    vendors = by_company(emulator, "VendorsV2")
    expected: list[Row] = []
    for company in sorted(CATALOG.companies):
        orders = {h["PURCHASEORDERNUMBER"]: h for h in headers[company]}
        names = {v["VENDORACCOUNTNUMBER"]: v["VENDORORGANIZATIONNAME"] for v in vendors[company]}
        totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"orders": set(), "amount": Decimal(0)})
        currency = {}
        for line in lines[company]:
            if line["PURCHASEORDERLINESTATUS"] == "Canceled":
                continue
            vendor = orders[line["PURCHASEORDERNUMBER"]]["ORDERVENDORACCOUNTNUMBER"]
            totals[vendor]["orders"].add(line["PURCHASEORDERNUMBER"])
            totals[vendor]["amount"] += line["LINEAMOUNT"]
            currency[vendor] = line["CURRENCYCODE"]
        ranked = sorted(totals.items(), key=lambda item: (-item[1]["amount"], item[0]))[:TOP_VENDORS]
        expected += [
            (company, vendor, names.get(vendor), len(t["orders"]), t["amount"], currency[vendor], rank)
            for rank, (vendor, t) in enumerate(ranked, start=1)
        ]
    assert len(expected) == TOP_VENDORS * len(CATALOG.companies)
    assert run_query(database, "top_vendors_by_purchase_amount") == expected
