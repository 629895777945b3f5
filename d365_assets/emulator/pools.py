"""Value pools for realistic fake F&O data (names with commas, quotes, line breaks, non-ASCII)."""

from __future__ import annotations

import datetime as dt

__all__ = [
    "CITIES",
    "COMPANY_NAMES",
    "DATES",
    "MAIN_ACCOUNTS",
    "PRODUCT_NAMES",
    "SPECIAL_NAMES",
    "STREETS",
    "TEXTS",
]

# The first rows of every named entity use these, so tests always meet every tricky value.
SPECIAL_NAMES = (
    "Forest Wholesales, Inc.",
    'The "Best" Bikes',
    "Müller GmbH",
    "Contoso Retail\r\nSan Diego",
    "Société Générale",
    "東京商事株式会社",
    'Åsa Ørsted, "ÆØÅ" Trading',
)

COMPANY_NAMES = (
    "Contoso Retail San Diego",
    "Fabrikam Electronics",
    "Adventure Works",
    "Litware, Inc.",
    "Northwind Traders",
    "Tailspin Toys",
    "Wingtip Toys",
    "Alpine Ski House",
    "Coho Winery",
    "Lamna Healthcare Company",
    "Trey Research",
    "Proseware, Inc.",
    "Humongous Insurance",
    "Blue Yonder Airlines",
    "Margie's Travel",
    "Fourth Coffee",
    "Wide World Importers",
    "Graphic Design Institute",
    "Bäckerei Schäfer KG",
    "Øresund Logistik A/S",
    "Ça Va Café",
    "Kraków Maszyny Sp. z o.o.",
    "São Paulo Comércio Ltda.",
    "大阪物産",
    "Ελληνικά Τρόφιμα",
    'Nordic "Cold" Chain',
)

PRODUCT_NAMES = (
    "Speaker cable 10",
    "Car audio system",
    "Surround sound receiver",
    'Mid-Range Speaker 2"',
    "Projector, 1080p",
    "Stereo headphones",
    "Brake pads (front)",
    "Mountain bike frame",
    "Kühlschrank A++",
    "Café crème beans 1kg",
    "Ski helmet, adult",
    "Panel kit\r\nwith brackets",
    "Tournevis électrique",
    "ケーブル 2m",
    "Office chair",
    "Desk lamp LED",
)

CITIES = (
    ("San Diego", "92101", "USA"),
    ("Seattle", "98052", "USA"),
    ("Chicago", "60601", "USA"),
    ("München", "80331", "DEU"),
    ("Köln", "50667", "DEU"),
    ("Paris", "75008", "FRA"),
    ("København", "1050", "DNK"),
    ("Malmö", "211 20", "SWE"),
    ("東京", "100-0001", "JPN"),
    ("Zürich", "8001", "CHE"),
)

STREETS = (
    "123 Coffee Street",
    "Hauptstraße 5",
    "1 Microsoft Way",
    "Suite 200, 456 Main St",
    "Rue de l'Église 12",
    "Storgatan 3",
    "Building 4\r\nFloor 2",
    "",
)

TEXTS = (
    "Customer invoice",
    "Vendor payment",
    "Inventory receipt",
    "Accrual, month end",
    'Reclass "misc" expense',
    "Gebühren Bank",
    "Frais de port",
    "",
)

# (id, name, type, category) of a realistic chart of accounts; more ids are generated after these.
MAIN_ACCOUNTS = (
    ("011000", "Land", "BalanceSheet", "FIXEDASSETS"),
    ("012000", "Buildings", "BalanceSheet", "FIXEDASSETS"),
    ("110110", "Bank account - USD", "Asset", "CASH"),
    ("110120", "Bank account - EUR", "Asset", "CASH"),
    ("110180", "Petty cash", "Asset", "CASH"),
    ("130100", "Accounts receivable - domestic", "Asset", "AR"),
    ("130200", "Accounts receivable - foreign", "Asset", "AR"),
    ("140100", "Inventory - finished goods", "Asset", "INVENTORY"),
    ("140200", "Inventory - raw materials", "Asset", "INVENTORY"),
    ("200110", "Accounts payable - domestic", "Liability", "AP"),
    ("200120", "Accounts payable - foreign", "Liability", "AP"),
    ("222100", "Sales tax payable", "Liability", "TAX"),
    ("250100", "Accrued liabilities", "Liability", "ACCRUED"),
    ("300100", "Common stock", "Equity", "EQUITY"),
    ("401100", "Sales - products", "Revenue", "REVENUE"),
    ("401200", "Sales - services", "Revenue", "REVENUE"),
    ("403100", "Sales discounts", "Revenue", "REVENUE"),
    ("501100", "Cost of goods sold", "Expense", "COGS"),
    ("510100", "Purchases, raw materials", "Expense", "COGS"),
    ("601500", "Office supplies", "Expense", "OPEX"),
    ("605100", "Travel & entertainment", "Expense", "OPEX"),
    ("606200", "Salaries", "Expense", "PAYROLL"),
    ("618160", "Bank fees", "Expense", "OPEX"),
    ("801100", "Interest income", "Revenue", "OTHER"),
    ("999999", "Suspense", "BalanceSheet", "OTHER"),
)

_EPOCH = dt.date(2023, 1, 1)
DATES = tuple(_EPOCH + dt.timedelta(days=n) for n in range(1500))
"""Dates from 2023-01-01, indexed by day number (cheap lookups while generating rows)."""
