"""Deterministic row content for each entity, from a row's index and hashes.

Each generator returns *raw* values in catalog column order: ``str`` for text and enums,
``bool`` for NoYes, ``int`` for integers, ``int`` micro-units for decimals (exact, 6 places),
``date``/``datetime`` or ``None`` (F&O's 1900-01-01 "no date"). ``h`` fixes the immutable fields,
``v`` (the version hash) the fields that business activity changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from .changes import mix
from .pools import (
    CITIES,
    COMPANY_NAMES,
    DATES,
    MAIN_ACCOUNTS,
    PRODUCT_NAMES,
    SPECIAL_NAMES,
    STREETS,
    TEXTS,
)

__all__ = ["GENERATORS", "GenContext", "main_account_id"]

M = 1_000_000  # micro-units per unit: decimals are carried as exact integers
_CURRENCIES = {"USMF": "USD", "DEMF": "EUR", "GBSI": "GBP", "JPMF": "JPY"}
_LANGUAGES = {"USD": "en-us", "EUR": "de", "GBP": "en-gb", "JPY": "ja"}
_MIDNIGHT = dt.time(0, 0)


@dataclass(frozen=True)
class GenContext:
    """What row generators need to know about the company and the other entities."""

    company: str
    """Legal entity code (upper case); ``""`` for shared entities."""
    counts: dict[str, int] = field(default_factory=dict)
    """Initial row counts per entity name in this company, for references between entities."""

    @property
    def prefix(self) -> str:
        """Two-letter account prefix, e.g. ``US`` for USMF."""
        return (self.company or "SH")[:2]

    @property
    def currency(self) -> str:
        """The company's accounting currency."""
        return _CURRENCIES.get(self.company, "USD")

    @cached_property
    def recid_base(self) -> int:
        """First RecId of this company's GL entries (companies get disjoint ranges)."""
        number = int.from_bytes(self.company.encode()[:8], "big")
        return 5637144576 + (mix(number) % 97) * 10_000_000_000

    @cached_property
    def sizes(self) -> dict[str, int]:
        """Initial rows per entity, at least 1 (so references between entities stay valid)."""
        return {name: max(1, n) for name, n in self.counts.items()}

    def count(self, entity: str) -> int:
        """Initial rows of another entity (at least 1)."""
        return self.sizes.get(entity, 1)


def main_account_id(index: int) -> str:
    """Main account id of row ``index`` of MainAccounts (curated ids first, then ``9nnnnn``)."""
    if index < len(MAIN_ACCOUNTS):
        return MAIN_ACCOUNTS[index][0]
    return f"9{index:05d}"


def _name(i: int, h: int, pool: tuple[str, ...] = COMPANY_NAMES) -> str:
    if i < len(SPECIAL_NAMES):
        return SPECIAL_NAMES[i]
    base = pool[h % len(pool)]
    return base if (h >> 40) % 3 == 0 else f"{base} {(h >> 20) % 900 + 100}"


def _customer_account(ctx: GenContext, i: int) -> str:
    return f"{ctx.prefix}-{i + 1:03d}"


def _vendor_account(ctx: GenContext, i: int) -> str:
    return f"{ctx.prefix}-{i + 101:03d}"


def _item_number(i: int) -> str:
    return f"{'DTMP'[i % 4]}{i // 4 + 1:04d}"


def _day(n: int) -> dt.date:
    return DATES[n % len(DATES)]


def _ordered_day(i: int, total: int) -> int:
    """Day number that grows with the row index (older rows have older dates)."""
    return 30 + (i * 1000) // max(1, total) + (i % 7)


def _customer(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    name = _name(i, h)
    city, zip_code, country = CITIES[(h >> 8) % len(CITIES)]
    alias = name.split("\r")[0][:20]
    on_hold = ("No", "No", "No", "No", "Invoice", "All", "Payment")[v % 7]
    email = "" if (v >> 9) % 5 == 0 else f"ap{(v >> 12) % 1000}@{ctx.prefix.lower()}{i + 1}.example.com"
    return [
        _customer_account(ctx, i),
        f"{(h >> 16) % 1000000 + i:09d}",
        name,
        alias,
        ("10", "20", "30", "40", "90")[(h >> 24) % 5],
        ctx.currency,
        ((v >> 16) % 500) * 1000 * M,
        ("Net30", "Net10", "Net45", "COD", "Net60")[(h >> 28) % 5],
        (h >> 32) % 17 == 0,
        on_hold,
        STREETS[(h >> 36) % len(STREETS)],
        city,
        zip_code,
        country,
        email,
        _LANGUAGES.get(ctx.currency, "en-us"),
    ]


def _vendor(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    city, _zip, country = CITIES[(h >> 8) % len(CITIES)]
    return [
        _vendor_account(ctx, i),
        f"{(h >> 16) % 1000000 + 500000 + i:09d}",
        _name(i, h),
        ("10", "20", "30", "50")[(h >> 24) % 4],
        ctx.currency,
        ((v >> 16) % 200) * 5000 * M,
        ("No", "No", "No", "Invoice", "Payment", "All", "Never")[v % 7],
        ("Net30", "Net45", "Net60", "2%10Net30")[(h >> 28) % 4],
        "" if (h >> 30) % 3 else ("1099", "WHT-DE", "WHT5")[(h >> 32) % 3],
        "" if (h >> 34) % 4 == 0 else f"{ctx.prefix}-BANK-{(h >> 36) % 90 + 10}",
        ("10", "20", "30", "40", "Truck", "Air")[(h >> 40) % 6],
        city,
        country,
        (h >> 44) % 9 == 0,
    ]


def _product(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    name = PRODUCT_NAMES[i % len(PRODUCT_NAMES)] if i < 32 else _name(i, h, PRODUCT_NAMES)
    item = _item_number(i)
    is_service = (h >> 8) % 10 == 0
    price = ((v >> 8) % 200000 + 100) * 10000
    return [
        item,
        item,
        name,
        name.split("\r")[0][:20].upper(),
        "Service" if is_service else "Item",
        "Product" if (h >> 12) % 4 else "ProductMaster",
        ("Audio", "TV&Video", "Bikes", "Food", "Office", "Services")[(h >> 16) % 6],
        ("FIFO", "STD", "WAVG")[(h >> 20) % 3],
        "" if is_service else ("SiteWH", "SiteWHLoc", "Ware")[(h >> 24) % 3],
        ("None", "SN", "Batch")[(h >> 28) % 3],
        ("ea", "pcs", "kg", "box", "l")[(h >> 32) % 5],
        price,
        price * 6 // 10 // 10000 * 10000,
        ((h >> 36) % 50000) * 100 if not is_service else 0,
        (v >> 50) % 2 == 0,
    ]


_SO_STATUS = ("Backorder", "Backorder", "Delivered", "Invoiced", "Invoiced", "Canceled")


def _sales_header(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    customer = (h >> 8) % ctx.count("CustomersV3")
    account = _customer_account(ctx, customer)
    day = _ordered_day(i, ctx.count("SalesOrderHeadersV2"))
    created = dt.datetime.combine(_day(day), dt.time((h >> 20) % 24, (h >> 26) % 60, (h >> 32) % 60))
    reference = "" if (v >> 4) % 3 == 0 else f"PO-{(v >> 10) % 100000:05d}"
    return [
        f"{i + 1:06d}",
        _SO_STATUS[v % len(_SO_STATUS)],
        account,
        account if (h >> 14) % 5 else _customer_account(ctx, (h >> 40) % ctx.count("CustomersV3")),
        ctx.currency,
        reference,
        ("1", "2", "3")[(h >> 44) % 3],
        ("11", "12", "21", "31")[(h >> 46) % 4],
        ("10", "20", "30", "Truck", "Air")[(h >> 48) % 5],
        ("Net30", "Net10", "COD")[(h >> 50) % 3],
        _day(day + 3 + (v >> 20) % 5),
        _day(day + 7 + (v >> 24) % 9),
        (h >> 52) % 23 == 0,
        created,
    ]


_LINE_STATUS = ("Backorder", "Backorder", "Delivered", "Invoiced", "Invoiced", "Canceled")


def _sales_line(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    orders, lines = ctx.count("SalesOrderHeadersV2"), ctx.count("SalesOrderLinesV2")
    order = i * orders // lines
    item = (h >> 8) % ctx.count("ReleasedProductsV2")
    qty = ((v >> 8) % 50 + 1) * M
    price = ((h >> 16) % 200000 + 100) * 10000
    gross = qty // M * price
    discount = 0 if (h >> 40) % 4 else gross * ((h >> 44) % 10) // 100 // 10000 * 10000
    day = _ordered_day(order, orders)
    confirmed = None if (v >> 30) % 3 == 0 else _day(day + 8 + (v >> 32) % 5)
    return [
        f"{ctx.company}-{i + 1:09d}",
        f"{order + 1:06d}",
        i % 10 + 1,
        _LINE_STATUS[v % len(_LINE_STATUS)],
        _item_number(item),
        PRODUCT_NAMES[item % len(PRODUCT_NAMES)],
        qty,
        ("ea", "pcs", "kg", "box")[(h >> 28) % 4],
        price,
        discount,
        gross - discount,
        ctx.currency,
        ("11", "12", "21", "31")[(h >> 32) % 4],
        _day(day + 7),
        confirmed,
    ]


_PO_STATUS = ("Backorder", "Backorder", "Received", "Invoiced", "Canceled")


def _purchase_header(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    vendor = (h >> 8) % ctx.count("VendorsV2")
    account = _vendor_account(ctx, vendor)
    day = _ordered_day(i, ctx.count("PurchaseOrderHeadersV2"))
    status = _PO_STATUS[v % len(_PO_STATUS)]
    confirmed = None if status == "Backorder" and (v >> 8) % 2 else _day(day + 10 + (v >> 12) % 6)
    return [
        f"{i + 1:08d}",
        status,
        account,
        account,
        ctx.currency,
        "" if (h >> 16) % 3 == 0 else f"SO{(h >> 20) % 1000000:06d}",
        ("1", "2", "3")[(h >> 40) % 3],
        ("11", "12", "21")[(h >> 42) % 3],
        ("Net30", "Net45", "Net60")[(h >> 44) % 3],
        ("", "Buyer1", "Buyer2", "Purch")[(h >> 46) % 4],
        _day(day + 14),
        confirmed,
    ]


def _purchase_line(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    orders, lines = ctx.count("PurchaseOrderHeadersV2"), ctx.count("PurchaseOrderLinesV2")
    order = i * orders // lines
    first_of_order = -(-order * lines // orders)  # first line index mapped to this order
    item = (h >> 8) % ctx.count("ReleasedProductsV2")
    qty = ((v >> 8) % 100 + 1) * M
    price = ((h >> 16) % 100000 + 50) * 10000
    return [
        f"{order + 1:08d}",
        i - first_of_order + 1,
        _PO_STATUS[v % len(_PO_STATUS)],
        _item_number(item),
        PRODUCT_NAMES[item % len(PRODUCT_NAMES)],
        qty,
        price,
        qty // M * price,
        ctx.currency,
        ("11", "12", "21")[(h >> 32) % 3],
        ("Office supplies", "Raw materials", "Audio", "Services, external", "IT hardware")[(h >> 36) % 5],
        _day(_ordered_day(order, orders) + 14),
    ]


def _main_account(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    if i < len(MAIN_ACCOUNTS):
        _id, name, kind, category = MAIN_ACCOUNTS[i]
    else:
        kind = ("Expense", "Revenue", "Asset", "Liability")[h % 4]
        name = f"{TEXTS[(h >> 4) % 6] or 'Other'} {i}"
        category = ("OPEX", "REVENUE", "CASH", "AP")[h % 4]
    active_to = None if (v >> 8) % 10 else _day(1200 + (v >> 16) % 200)
    return [
        main_account_id(i),
        "Shared",
        name,
        kind,
        category,
        ("Sales", "Purch", "LedgerJournal", "Bank", "Tax")[(h >> 12) % 5],
        "None" if (h >> 16) % 3 else ("Debit", "Credit")[(h >> 18) % 2],
        (v >> 24) % 13 == 0,
        (h >> 28) % 7 == 0,
        _day(0 if i < 40 else (h >> 32) % 400),
        active_to,
        ("USD", "", "EUR")[(h >> 36) % 3],
    ]


_POSTING_TYPES = ("LedgerJournal", "CustBalance", "VendBalance", "Tax", "InventReceipt", "InventIssue")
_JOURNAL_CATEGORIES = ("Daily", "Sales", "Purch", "Payment", "Invent", "Tax")


def _gl_entry(ctx: GenContext, i: int, h: int, v: int) -> list[object]:
    sizes = ctx.sizes
    account = main_account_id((h >> 4) % sizes["MainAccounts"])
    dims = f"{account}-{(h >> 12) % 40 + 1:03d}-{(h >> 18) % 30 + 1:03d}"
    amount = ((h >> 24) % 5_000_000 + 1) * 10_000
    credit = (h >> 48) % 2 == 1
    if credit:
        amount = -amount
    day = _ordered_day(i, sizes["GeneralJournalAccountEntries"])
    posted = dt.datetime.combine(_day(day), _MIDNIGHT) + dt.timedelta(seconds=(h >> 8) % 86400)
    journal = i // 40 + 1
    category = (h >> 52) % 6
    return [
        ctx.recid_base + i,
        f"{ctx.prefix}GL{journal:07d}",
        f"GNJL{i // 4 + 1:07d}",
        _day(day),
        ("Current", "Current", "Current", "Operations", "Tax")[(h >> 56) % 5],
        ctx.company,
        account,
        dims,
        dims,
        ctx.currency,
        amount,
        amount,
        amount * 11 // 10 // 10000 * 10000,
        ((h >> 30) % 20) * M if category == 4 else 0,
        credit,
        (h >> 60) % 11 == 0,
        _POSTING_TYPES[(h >> 36) % len(_POSTING_TYPES)],
        _JOURNAL_CATEGORIES[category],
        "" if (v >> 4) % 4 == 0 else f"INV-{(v >> 8) % 1000000:06d}",
        None if (h >> 40) % 3 == 0 else _day(day - (h >> 42) % 5),
        TEXTS[(v >> 20) % len(TEXTS)],
        posted,
    ]


Generator = Callable[[GenContext, int, int, int], list[object]]

GENERATORS: dict[str, Generator] = {
    "CustomersV3": _customer,
    "VendorsV2": _vendor,
    "ReleasedProductsV2": _product,
    "SalesOrderHeadersV2": _sales_header,
    "SalesOrderLinesV2": _sales_line,
    "PurchaseOrderHeadersV2": _purchase_header,
    "PurchaseOrderLinesV2": _purchase_line,
    "MainAccounts": _main_account,
    "GeneralJournalAccountEntries": _gl_entry,
}
"""Row generator per entity collection name."""
