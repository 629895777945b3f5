"""The sample entity of the package tests: its header, rows and schema, and what reading it must give."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

import polars as pl

from d365_assets.schema import EntitySchema

HEADER = ["ACCOUNT", "NAME", "AMOUNT", "ONHOLD", "LINE", "SHIPDATE", "CREATED", "STATUS"]
SCHEMA = EntitySchema.of(
    [
        ("ACCOUNT", "string"),
        ("NAME", "string"),
        ("AMOUNT", "decimal"),
        ("ONHOLD", "noyes"),
        ("LINE", "integer"),
        ("SHIPDATE", "date"),
        ("CREATED", "datetime"),
        ("STATUS", "enum"),
    ]
)
ROWS = [
    [
        "011000",
        'Forest Wholesales, Inc. "FW"',
        "1250.500000",
        "Yes",
        "1",
        "2026-03-01",
        "2026-03-01T14:05:00",
        "Open",
    ],
    ["000042", "Ünïcødé 北京 line\r\nbreak", "0.100000", "No", "-2", "1900-01-01", "1900-01-01T00:00:00", ""],
    ["US-003", "", "12345678901234567890.123456", "", "", "", "", "Closed"],
]


def assert_typed(frame: pl.DataFrame) -> None:
    """``frame`` is the sample read with ``SCHEMA``: exact columns, types and values."""
    assert frame.columns == SCHEMA.names
    assert frame.schema == {
        "ACCOUNT": pl.String,
        "NAME": pl.String,
        "AMOUNT": pl.Decimal(32, 6),
        "ONHOLD": pl.Boolean,
        "LINE": pl.Int64,
        "SHIPDATE": pl.Date,
        "CREATED": pl.Datetime("us"),
        "STATUS": pl.String,
    }
    assert frame["ACCOUNT"].to_list() == ["011000", "000042", "US-003"]
    assert frame["NAME"].to_list() == ['Forest Wholesales, Inc. "FW"', "Ünïcødé 北京 line\r\nbreak", ""]
    assert frame["AMOUNT"].to_list() == [
        Decimal("1250.500000"),
        Decimal("0.100000"),
        Decimal("12345678901234567890.123456"),
    ]
    assert frame["ONHOLD"].to_list() == [True, False, None]
    assert frame["LINE"].to_list() == [1, -2, None]
    assert frame["SHIPDATE"].to_list() == [dt.date(2026, 3, 1), None, None]
    assert frame["CREATED"].to_list() == [dt.datetime(2026, 3, 1, 14, 5), None, None]
    assert frame["STATUS"].to_list() == ["Open", "", "Closed"]


def xml_elements(rows: list[list[str]], *, record: str = "CUSTCUSTOMERV3ENTITY") -> str:
    """Rows (``HEADER`` columns) as an XML-Element entity file, one ``record`` element per row."""
    body = "".join(
        f"<{record}>"
        + "".join(
            f"<{n}>{escape(v).replace(chr(13), '&#13;')}</{n}>" if v else f"<{n}/>"
            for n, v in zip(HEADER, row, strict=True)
        )
        + f"</{record}>\r\n"
        for row in rows
    )
    return f"<Document>\r\n{body}</Document>"


def xml_attributes(rows: list[list[str]]) -> str:
    """Rows (``HEADER`` columns) as an XML-Attribute entity file; empty values are left out."""
    body = "".join(
        "<CUSTOMERSV3"
        + "".join(f" {n}={quoteattr(v, {chr(13): '&#13;'})}" for n, v in zip(HEADER, row, strict=True) if v)
        + "/>\r\n"
        for row in rows
    )
    return f"<Document>{body}</Document>"
