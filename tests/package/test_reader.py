"""Reading entity files into typed frames: encodings, quoting, exact types, errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from d365_assets.package import (
    DataPackage,
    FileFormat,
    PackageError,
    PackageValueError,
)
from d365_assets.schema import EntitySchema, Locale

from .builders import EntityFile, csv_text, make_package, unicode_csv, utf8_csv
from .sample import HEADER, ROWS, SCHEMA, assert_typed


def read(
    tmp_path: Path,
    data: bytes,
    *,
    fmt: str = "CSV-Unicode",
    schema: EntitySchema = SCHEMA,
    locale: Locale | None = None,
    **kw,
) -> pl.DataFrame:
    path = make_package(tmp_path / "p.zip", [EntityFile("Customers V3", data, source_format=fmt)])
    with DataPackage.open(path, **kw) as package:
        return package.read_entity("Customers V3", schema=schema, locale=locale)


def test_csv_unicode(tmp_path: Path) -> None:
    assert_typed(read(tmp_path, unicode_csv([HEADER, *ROWS])))


@pytest.mark.parametrize("bom", [True, False])
def test_csv_utf8(tmp_path: Path, bom: bool) -> None:
    assert_typed(read(tmp_path, utf8_csv([HEADER, *ROWS], bom=bom), fmt="CSV"))


def test_csv_unicode_without_bom_and_big_endian_bom(tmp_path: Path) -> None:
    assert_typed(read(tmp_path, csv_text([HEADER, *ROWS]).encode("utf-16-le")))
    assert_typed(read(tmp_path, b"\xfe\xff" + csv_text([HEADER, *ROWS]).encode("utf-16-be")))


def test_semicolon_format_can_be_registered(tmp_path: Path) -> None:
    def field(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ';"\r\n') else value

    text = "".join(";".join(field(v) for v in row) + "\r\n" for row in [HEADER, *ROWS])
    frame = read(
        tmp_path,
        text.encode("utf-16"),
        fmt="SEMICOLON-Unicode",
        formats={"SEMICOLON-Unicode": FileFormat.delimited(";", "utf-16-le")},
    )
    assert_typed(frame)


def test_unknown_format_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"FileFormat\.delimited"):
        read(tmp_path, unicode_csv([HEADER]), fmt="FIXED-WIDTH")


def test_columns_in_schema_order_and_case_insensitive(tmp_path: Path) -> None:
    header = [h.lower() for h in reversed(HEADER)]
    rows = [list(reversed(r)) for r in ROWS]
    assert_typed(read(tmp_path, unicode_csv([header, *rows])))


def test_exact_decimals(tmp_path: Path) -> None:
    schema = EntitySchema.of([("A", "decimal"), ("B", "decimal")])
    frame = read(
        tmp_path,
        unicode_csv([["A", "B"], ["0.1", "0.2"], ["-0.000001", "99999999999999999999999999.999999"]]),
        schema=schema,
    )
    total = frame.select((pl.col("A") + pl.col("B")).alias("S"))["S"].to_list()
    assert total[0] == Decimal("0.3")
    assert frame["B"].to_list()[1] == Decimal("99999999999999999999999999.999999")


@pytest.mark.parametrize(
    ("value", "expected", "locale"),
    [
        ("2026-03-01", dt.date(2026, 3, 1), None),
        ("3/1/2026", dt.date(2026, 3, 1), Locale.EN_US),  # without a time: only when en-US is declared
        ("03/01/2026", dt.date(2026, 3, 1), Locale.EN_US),
        ("3/1/2026 12:00:00 AM", dt.date(2026, 3, 1), None),
        ("2026-03-01T00:00:00", dt.date(2026, 3, 1), None),
        ("1900-01-01", None, None),
        ("1/1/1900", None, Locale.EN_US),
        ("1/1/1900 12:00:00 AM", None, None),
        ("1900-01-01T00:00:00", None, None),
        ("", None, None),
    ],
)
def test_date_forms(tmp_path: Path, value: str, expected: dt.date | None, locale: Locale | None) -> None:
    schema = EntitySchema.of([("D", "date")])
    data = unicode_csv([["D"], [value]])
    assert read(tmp_path, data, schema=schema, locale=locale)["D"].to_list() == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T14:05:00", dt.datetime(2026, 3, 1, 14, 5)),
        ("2026-03-01 14:05:00", dt.datetime(2026, 3, 1, 14, 5)),
        ("2026-03-01T14:05:00Z", dt.datetime(2026, 3, 1, 14, 5)),
        ("2026-03-01T14:05:00.250", dt.datetime(2026, 3, 1, 14, 5, 0, 250000)),
        ("3/1/2026 2:05:00 PM", dt.datetime(2026, 3, 1, 14, 5)),
        ("3/1/2026 12:00:00 AM", dt.datetime(2026, 3, 1)),
        ("2026-03-01", dt.datetime(2026, 3, 1)),
        ("1/1/1900 12:00:00 AM", None),
        ("1900-01-01 00:00:00", None),
        ("1900-01-01T00:00:00", None),
    ],
)
def test_datetime_forms(tmp_path: Path, value: str, expected: dt.datetime | None) -> None:
    schema = EntitySchema.of([("T", "datetime")])
    assert read(tmp_path, unicode_csv([["T"], [value]]), schema=schema)["T"].to_list() == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Yes", True), ("No", False), ("1", True), ("0", False), ("true", True), ("FALSE", False)],
)
def test_noyes_forms(tmp_path: Path, value: str, expected: bool) -> None:
    schema = EntitySchema.of([("B", "noyes")])
    assert read(tmp_path, unicode_csv([["B"], [value]]), schema=schema)["B"].to_list() == [expected]


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        ("decimal", "12,50"),
        ("decimal", "1.1234567"),
        ("decimal", "123456789012345678901234567"),
        ("decimal", "NaN"),
        ("integer", "1.5"),
        ("integer", "99999999999999999999"),
        ("noyes", "Maybe"),
        ("date", "2026-13-01"),
        ("date", "01.03.2026"),
        ("datetime", "yesterday"),
    ],
)
def test_bad_value_names_column_row_and_value(tmp_path: Path, kind: str, bad: str) -> None:
    good = {"decimal": "1.0", "integer": "1", "noyes": "Yes", "date": "2026-03-01", "datetime": "2026-03-01"}[
        kind
    ]
    schema = EntitySchema.of([("ID", "string"), ("V", kind)])
    rows = [["ID", "V"], ["a", good], ["b", ""], ["c", good], ["d", bad], ["e", bad]]
    with pytest.raises(PackageValueError) as info:
        read(tmp_path, unicode_csv(rows), schema=schema)
    error = info.value
    assert (error.entity, error.column, error.row, error.value) == ("Customers V3", "V", 4, bad)
    assert "column V" in str(error)
    assert "data row 4" in str(error)
    assert repr(bad) in str(error)


def test_bad_value_row_number_across_batches(tmp_path: Path) -> None:
    schema = EntitySchema.of([("N", "integer")])
    rows = [["N"]] + [[str(i)] for i in range(1, 1000)] + [["oops"]]
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv(rows))])
    with DataPackage.open(path) as package, pytest.raises(PackageValueError) as info:
        list(package.iter_entity_batches("E", schema=schema, batch_rows=64))
    assert info.value.row == 1000


def test_batches_are_bounded_and_complete(tmp_path: Path) -> None:
    schema = EntitySchema.of([("N", "integer"), ("S", "string")])
    rows = [["N", "S"]] + [[str(i), f"text, {i}\r\nmore"] for i in range(10_000)]
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv(rows))])
    with DataPackage.open(path) as package:
        frames = list(package.iter_entity_batches("E", schema=schema, batch_rows=3000))
    assert [f.height for f in frames] == [3000, 3000, 3000, 1000]
    assert pl.concat(frames)["N"].to_list() == list(range(10_000))


def test_missing_schema_columns_are_named(tmp_path: Path) -> None:
    data = unicode_csv([["ACCOUNT", "NAME"], ["1", "x"]])
    with pytest.raises(PackageError) as info:
        read(tmp_path, data)
    assert "lacks column(s) AMOUNT, ONHOLD, LINE, SHIPDATE, CREATED, STATUS" in str(info.value)


def test_extra_file_columns_are_named_with_the_fix(tmp_path: Path) -> None:
    schema = EntitySchema.of([("ACCOUNT", "string")])
    data = unicode_csv([["ACCOUNT", "NEWFIELD"], ["1", "x"]])
    with pytest.raises(PackageError) as info:
        read(tmp_path, data, schema=schema)
    assert "NEWFIELD" in str(info.value)
    assert "catalog" in str(info.value)


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    frame = read(tmp_path, unicode_csv([HEADER]))
    assert frame.height == 0
    assert frame.schema["AMOUNT"] == pl.Decimal(32, 6)
    empty = read(tmp_path, b"")
    assert empty.height == 0
    assert empty.columns == SCHEMA.names


def test_ragged_row_is_a_package_error(tmp_path: Path) -> None:
    schema = EntitySchema.of([("A", "string"), ("B", "string")])
    data = unicode_csv([["A", "B"], ["1", "2"]]) + "3\r\n".encode("utf-16-le")
    with pytest.raises(PackageError, match="cannot parse"):
        read(tmp_path, data, schema=schema)


def test_several_entities(tmp_path: Path) -> None:
    entities = [
        EntityFile("Customers V3", unicode_csv([["A"], ["c"]])),
        EntityFile("Vendors V2", utf8_csv([["A"], ["v"]]), source_format="CSV"),
    ]
    schema = EntitySchema.of([("A", "string")])
    with DataPackage.open(make_package(tmp_path / "p.zip", entities)) as package:
        assert package.labels == ["Customers V3", "Vendors V2"]
        assert package.read_entity("Vendors V2", schema=schema)["A"].to_list() == ["v"]
        assert package.read_entity("Customers V3", schema=schema)["A"].to_list() == ["c"]


# -- the typed fast path agrees with the per-column converter ---------------------------------

EDGE_VALUES = {
    "integer": ["1", "+1", "-2", " 1", "1 ", "01", "0x10", "1.5", "1e3", "99999999999999999999", "1_00", "٣"],
    "decimal": [
        "1.5", ".5", "5.", "+1.5", "-.5", " 1.5", "1.5 ", "1.1234567", "1.1234560", "1e3", "1.5E2", "NaN",
        "inf", "0x1", "-", ".", "123456789012345678901234567", "-99999999999999999999999999.999999",
        "00012.000100", "12345678901234567890123456.123456", "+.5", "٣.5", "1,5", "1.5.",
    ],
    "noyes": ["Yes", "No", "yes", "NO", "1", "0", "true", "False", "tRuE", " Yes", "Yes ", "Y", "maybe"],
    "date": [
        "2026-03-01", "3/1/2026", "03/01/2026", "3/1/2026 12:00:00 AM", "2026-03-01T00:00:00",
        "1900-01-01", "1/1/1900", " 2026-03-01", "2026-03-01 ", "2026-03-01T14:05:00Z", "3/1/2026 2:05 PM",
        "2026-13-01", "01.03.2026", "20260301", "3/1/26", "3/1/26 12:00:00 AM", "26-03-01", "0026-03-01",
    ],
    "datetime": [
        "2026-03-01T14:05:00", "2026-03-01 14:05:00", "2026-03-01T14:05:00Z", "2026-03-01T14:05:00.250",
        "2026-03-01T14:05", "3/1/2026 2:05:00 PM", "3/1/2026 2:05:00 pm", "3/1/2026 14:05:00",
        "3/1/2026 2:05 PM", "3/1/2026", "1900-01-01T00:00:00", "1/1/1900 12:00:00 AM", "1900-01-01 10:00:00",
        " 3/1/2026", "3/1/2026 ", "yesterday", "3/1/2026 13:05:00 PM", "3/1/26", "3/1/026 2:05:00 PM",
        "26-03-01T14:05:00", "0026-03-01T14:05:00",
    ],
}  # fmt: skip


def _slow(kind: str, value: str) -> object:
    """What the per-column converter (the reference semantics) makes of ``value``."""
    from d365_assets.package.convert import convert_frame

    schema = EntitySchema.of([("V", kind)])
    try:
        return convert_frame(pl.DataFrame({"V": [value]}), schema, entity="E", first_row=1)["V"].to_list()
    except PackageValueError as error:
        return ("error", error.row, error.value)


@pytest.mark.parametrize(
    ("kind", "value"), [(kind, value) for kind, values in EDGE_VALUES.items() for value in values]
)
@pytest.mark.parametrize("fmt", ["CSV", "CSV-Unicode"])
def test_fast_path_matches_the_per_column_converter(tmp_path: Path, kind: str, value: str, fmt: str) -> None:
    schema = EntitySchema.of([("ID", "string"), ("V", kind)])
    rows = [["ID", "V"], ["a", ""], ["b", value]]
    data = utf8_csv(rows) if fmt == "CSV" else unicode_csv(rows)
    expected = _slow(kind, value)
    try:
        got: object = read(tmp_path, data, fmt=fmt, schema=schema)["V"].to_list()[1:]
    except PackageValueError as error:
        got = ("error", error.row - 1, error.value)
    assert got == expected


def test_a_rare_form_late_in_the_file_is_read_and_later_rows_keep_their_numbers(tmp_path: Path) -> None:
    schema = EntitySchema.of([("N", "integer"), ("B", "noyes"), ("D", "date")])
    rows = [["N", "B", "D"]] + [[str(i), "Yes", "2026-03-01"] for i in range(1, 2001)]
    rows[1500][1] = "true"  # not a form the CSV parser types: read again as text from row 1409 on
    rows[1800][2] = "3/1/2026 12:00:00 AM"
    path = make_package(tmp_path / "p.zip", [EntityFile("E", utf8_csv(rows), source_format="CSV")])
    with DataPackage.open(path) as package:
        frames = list(package.iter_entity_batches("E", schema=schema, batch_rows=64))
    frame = pl.concat(frames)
    assert frame["N"].to_list() == list(range(1, 2001))
    assert frame["B"].to_list() == [True] * 2000
    assert frame["D"].to_list() == [dt.date(2026, 3, 1)] * 2000
    assert [f.height for f in frames] == [64] * 31 + [16]
    rows[1900][2] = "2026-02-30"
    path = make_package(tmp_path / "q.zip", [EntityFile("E", utf8_csv(rows), source_format="CSV")])
    with DataPackage.open(path) as package, pytest.raises(PackageValueError) as info:
        list(package.iter_entity_batches("E", schema=schema, batch_rows=64))
    assert (info.value.column, info.value.row, info.value.value) == ("D", 1900, "2026-02-30")


def test_quoted_line_breaks_survive_a_reread(tmp_path: Path) -> None:
    schema = EntitySchema.of([("S", "string"), ("T", "datetime")])
    rows = [["S", "T"]] + [[f'line {i}\r\nnext, "q"', "2026-03-01T14:05:00"] for i in range(3000)]
    rows[2500][1] = "2026-03-01T14:05:00Z"
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv(rows))])
    with DataPackage.open(path) as package:
        frame = package.read_entity("E", schema=schema, batch_rows=500)
    assert frame["S"].to_list() == [f'line {i}\r\nnext, "q"' for i in range(3000)]
    assert frame["T"].to_list() == [dt.datetime(2026, 3, 1, 14, 5)] * 3000


def test_iso_hour_only_is_the_one_form_the_fast_path_adds(tmp_path: Path) -> None:
    """Arrow's ISO 8601 parser also takes reduced precision ``2026-03-01T14`` (14:00); the text
    converter does not. Pinned so that a change either way is deliberate."""
    schema = EntitySchema.of([("T", "datetime")])
    frame = read(tmp_path, utf8_csv([["T"], ["2026-03-01T14"]]), fmt="CSV", schema=schema)
    assert frame["T"].to_list() == [dt.datetime(2026, 3, 1, 14)]
    assert _slow("datetime", "2026-03-01T14") == ("error", 1, "2026-03-01T14")
