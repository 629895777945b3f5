"""Dates and numbers in the forms of the data project's locale: exactly those, never guessed.

A locale reads its own forms (and ISO dates, which nothing misreads); a value in another locale's
form is refused, naming that locale as the fix. A day and a month are never swapped, ``1.234`` is
never taken for ``1.234`` in de-DE (it is 1234), and an enum column that knows its members takes
only those.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from d365_assets.package import DataPackage, PackageValueError
from d365_assets.package.convert import convert_frame
from d365_assets.package.locales import value_format
from d365_assets.schema import Column, ColumnType, EntitySchema, Locale

from .builders import EntityFile, make_package, unicode_csv, utf8_csv, xlsx

US, GB, DE, ISO = Locale.EN_US, Locale.EN_GB, Locale.DE_DE, Locale.ISO
MARCH_1 = dt.date(2026, 3, 1)
MARCH_1_14_05 = dt.datetime(2026, 3, 1, 14, 5)


def read(
    tmp_path: Path,
    rows: list[list[str]],
    schema: EntitySchema,
    locale: Locale | None,
    fmt: str = "CSV-Unicode",
) -> pl.DataFrame:
    data = unicode_csv(rows) if fmt == "CSV-Unicode" else utf8_csv(rows)
    path = make_package(tmp_path / "p.zip", [EntityFile("E", data, source_format=fmt)])
    with DataPackage.open(path) as package:
        return package.read_entity("E", schema=schema, locale=locale)


def one(tmp_path: Path, kind: str, value: str, locale: Locale | None) -> object:
    """The typed value of a one-column, one-row file."""
    return read(tmp_path, [["V"], [value]], EntitySchema.of([("V", kind)]), locale)["V"].to_list()[0]


def refused(tmp_path: Path, kind: str, value: str, locale: Locale | None) -> PackageValueError:
    rows = [["ID", "V"], ["a", ""], ["b", value]]
    with pytest.raises(PackageValueError) as info:
        read(tmp_path, rows, EntitySchema.of([("ID", "string"), ("V", kind)]), locale)
    assert (info.value.entity, info.value.column, info.value.row, info.value.value) == ("E", "V", 2, value)
    return info.value


# -- each locale reads its own forms ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "date", "datetime", "decimal", "integer"),
    [
        (ISO, "2026-03-01", "2026-03-01T14:05:00", "-1234.5", "-1234"),
        (US, "3/1/2026 12:00:00 AM", "3/1/2026 2:05:00 PM", "-1,234.5", "-1,234"),
        (US, "3/1/2026", "03/01/2026 02:05 PM", "-1234.500000", "-1234"),
        (GB, "01/03/2026 00:00:00", "01/03/2026 14:05:00", "-1,234.5", "-1,234"),
        (GB, "1/3/2026", "1/3/2026 14:05", "-1234.500000", "-1234"),
        (DE, "01.03.2026 00:00:00", "01.03.2026 14:05:00", "-1.234,5", "-1.234"),
        (DE, "1.3.2026", "1.3.2026 14:05", "-1234,500000", "-1234"),
        (None, "2026-03-01", "3/1/2026 2:05:00 PM", "-1234.5", "-1234"),
        (None, "3/1/2026 12:00:00 AM", "2026-03-01 14:05:00", "-1234.500000", "-1234"),
    ],
)
@pytest.mark.parametrize("fmt", ["CSV", "CSV-Unicode"])
def test_each_locale_reads_its_forms(
    tmp_path: Path, locale: Locale | None, date: str, datetime: str, decimal: str, integer: str, fmt: str
) -> None:
    schema = EntitySchema.of([("D", "date"), ("T", "datetime"), ("A", "decimal"), ("N", "integer")])
    rows = [["D", "T", "A", "N"], [date, datetime, decimal, integer], ["", "", "", ""]]
    frame = read(tmp_path, rows, schema, locale, fmt)
    assert frame.row(0) == (MARCH_1, MARCH_1_14_05, Decimal("-1234.5"), -1234)
    assert frame.row(1) == (None, None, None, None)


@pytest.mark.parametrize("locale", [ISO, US, GB, DE, None])
def test_iso_dates_and_the_empty_date_read_under_every_locale(tmp_path: Path, locale: Locale | None) -> None:
    assert one(tmp_path, "datetime", "2026-03-01T14:05:00Z", locale) == MARCH_1_14_05
    assert one(tmp_path, "date", "1900-01-01", locale) is None
    empty = {
        ISO: "1900-01-01",
        US: "1/1/1900 12:00:00 AM",
        GB: "01/01/1900 00:00:00",
        DE: "01.01.1900 00:00:00",
    }
    assert one(tmp_path, "date", empty.get(locale, "1900-01-01T00:00:00"), locale) is None  # type: ignore[arg-type]


# -- a day and a month are never swapped -------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "value", "fits"),
    [
        (US, "01/03/2026 00:00:00", "en-GB"),  # no AM/PM: the en-GB clock
        (US, "13/03/2026 00:00:00", "en-GB"),
        (GB, "3/1/2026 12:00:00 AM", "en-US"),
        (GB, "01.03.2026 00:00:00", "de-DE"),
        (DE, "01/03/2026 00:00:00", "en-GB"),
        (ISO, "3/1/2026 12:00:00 AM", "en-US"),
        (ISO, "01/03/2026", "en-US or en-GB"),  # both read it, as different days
        (None, "01/03/2026", "en-US or en-GB"),
        (None, "01/03/2026 00:00:00", "en-GB"),
        (None, "3/1/2026 14:05:00", "en-GB"),  # a 24-hour clock is not en-US's
    ],
)
@pytest.mark.parametrize("kind", ["date", "datetime"])
def test_a_date_of_another_locale_is_refused_naming_it(
    tmp_path: Path, locale: Locale | None, value: str, fits: str, kind: str
) -> None:
    message = str(refused(tmp_path, kind, value, locale))
    assert f"it is written in the {fits} form" in message
    assert f"locale: {fits.split(' or ')[0]}" in message
    assert "regional settings in F&O" in message


@pytest.mark.parametrize(
    ("locale", "value"),
    [
        (US, "2/30/2026 12:00:00 AM"),  # Arrow's own parser would read March 2
        (None, "2/30/2026 12:00:00 AM"),
        (GB, "30/02/2026 00:00:00"),
        (DE, "30.02.2026 00:00:00"),
        (US, "3/1/2026 0:05:00 AM"),
        (GB, "01/03/2026 24:00:00"),
        (DE, "01.03.2026 00:00:00 AM"),
    ],
)
def test_an_impossible_date_is_refused_not_rolled_over(
    tmp_path: Path, locale: Locale | None, value: str
) -> None:
    message = str(refused(tmp_path, "datetime", value, locale))
    assert "is not a date and time in the" in message


def test_without_a_locale_a_slash_date_without_a_clock_is_refused_as_ambiguous(tmp_path: Path) -> None:
    message = str(refused(tmp_path, "date", "01/03/2026", None))
    assert "(the catalog declares no locale)" in message
    assert one(tmp_path, "date", "01/03/2026", US) == dt.date(2026, 1, 3)
    assert one(tmp_path, "date", "01/03/2026", GB) == MARCH_1


@pytest.mark.parametrize("locale", [US, GB, DE])
def test_a_two_digit_year_is_refused_in_every_locale(tmp_path: Path, locale: Locale) -> None:
    value = {US: "3/1/26 12:00:00 AM", GB: "01/03/26 00:00:00", DE: "01.03.26 00:00:00"}[locale]
    assert "a 4-digit year is required" in str(refused(tmp_path, "date", value, locale))


# -- numbers: the decimal point and the thousands separator of the locale, in their places --------------


@pytest.mark.parametrize(
    ("locale", "value", "expected"),
    [
        (DE, "1.234,56", Decimal("1234.56")),
        (DE, "1.234", Decimal("1234")),  # a thousands separator in de-DE, never a point
        (DE, "1234,560000", Decimal("1234.56")),
        (DE, ",5", Decimal("0.5")),
        (DE, "-1.234.567,000001", Decimal("-1234567.000001")),
        (US, "1,234,567.5", Decimal("1234567.5")),
        (GB, "1,234.56", Decimal("1234.56")),
        (US, "1234.56", Decimal("1234.56")),
    ],
)
def test_decimals_in_the_locales_form(tmp_path: Path, locale: Locale, value: str, expected: Decimal) -> None:
    assert one(tmp_path, "decimal", value, locale) == expected


@pytest.mark.parametrize(
    ("locale", "value", "fits"),
    [
        (DE, "1234.56", "ISO or en-US or en-GB"),
        (DE, "1,234.56", "en-US or en-GB"),
        (US, "1.234,56", "de-DE"),
        (US, "1234,56", "de-DE"),
        (None, "1,234.56", "en-US or en-GB"),  # grouping only where a locale is declared
        (ISO, "1,234.56", "en-US or en-GB"),
    ],
)
def test_a_number_of_another_locale_is_refused_naming_it(
    tmp_path: Path, locale: Locale | None, value: str, fits: str
) -> None:
    assert f"it is written in the {fits} form" in str(refused(tmp_path, "decimal", value, locale))


@pytest.mark.parametrize(
    "value", ["1.23,4", "12.34,5", "1.2345,6", ",", "1,2345678", "1.234,5678901", "1 234,5"]
)
def test_a_misplaced_separator_is_refused(tmp_path: Path, value: str) -> None:
    message = str(refused(tmp_path, "decimal", value, DE))
    assert "is not a decimal in the de-DE form" in message


@pytest.mark.parametrize(("locale", "value"), [(DE, "1.234"), (US, "1,234"), (GB, "-12,345,678")])
def test_whole_numbers_may_be_grouped(tmp_path: Path, locale: Locale, value: str) -> None:
    assert one(tmp_path, "integer", value, locale) == int(value.replace(".", "").replace(",", ""))


def test_integers_are_not_decimals_in_any_locale(tmp_path: Path) -> None:
    assert "is not a whole number in the de-DE form" in str(refused(tmp_path, "integer", "1,5", DE))
    assert "is not a whole number in the en-US form" in str(refused(tmp_path, "integer", "1.5", US))


# -- the typed fast path agrees with the per-column converter, in every locale -----------------------

EDGE = {
    "date": [
        "3/1/2026", "01/03/2026", "13/03/2026", "3/13/2026", "01.03.2026", "1.3.2026", "2026-03-01",
        "3/1/2026 12:00:00 AM", "01/03/2026 00:00:00", "01.03.2026 00:00:00", "2/30/2026 12:00:00 AM",
        "30/02/2026 00:00:00", "30.02.2026", "01.03.26", "3/1/26", "1900-01-01", "1.1.1900 00:00:00",
        " 01.03.2026 ", "2026-02-30", "0026-03-01",
    ],
    "datetime": [
        "3/1/2026 2:05:00 PM", "3/1/2026 2:05 PM", "01/03/2026 14:05:00", "01/03/2026 14:05",
        "01.03.2026 14:05:00", "01.03.2026 14:05:00.5", "2026-03-01T14:05:00", "3/1/2026 14:05:00",
        "01/03/2026 2:05:00 PM", "01.03.2026 25:00:00", "2026-03-01T14:05:00Z",
    ],
    "decimal": [
        "1234.56", "1,234.56", "1.234,56", "1234,56", "1.234", "1,234", ",5", ".5", "1.2.3", "1,,2",
        "-1.234.567,5", "1.234,5678901", "12345678901234567890123456,5", "1e3", " 1,5 ",
    ],
    "integer": ["1234", "1,234", "1.234", "1.23", "-12.345.678", "1,5", " 7 "],
}  # fmt: skip


def _slow(kind: str, value: str, locale: Locale | None) -> object:
    """What the per-column converter (the reference semantics) makes of ``value``."""
    text = pl.DataFrame({"V": [value]})
    try:
        typed = convert_frame(text, one_column(kind), entity="E", first_row=1, values=value_format(locale))
    except PackageValueError as error:
        return ("error", error.row, error.value)
    return typed["V"].to_list()


def one_column(kind: str) -> EntitySchema:
    return EntitySchema.of([("V", kind)])


@pytest.mark.parametrize("locale", [ISO, US, GB, DE, None])
@pytest.mark.parametrize("kind", list(EDGE))
def test_fast_path_matches_the_converter_in_every_locale(
    tmp_path: Path, locale: Locale | None, kind: str
) -> None:
    schema = EntitySchema.of([("ID", "string"), ("V", kind)])
    for value in EDGE[kind]:
        try:
            got: object = read(tmp_path, [["ID", "V"], ["a", ""], ["b", value]], schema, locale, "CSV")
            got = got["V"].to_list()[1:]  # type: ignore[index]
        except PackageValueError as error:
            got = ("error", error.row - 1, error.value)
        assert got == _slow(kind, value, locale), (locale, value)


# -- Excel and XML files follow the locale too -----------------------------------------------------


def test_excel_text_cells_and_typed_cells_in_de_de(tmp_path: Path) -> None:
    rows = [["A", "D"], ["1.234,5", "01.03.2026 00:00:00"], [1234.5, dt.datetime(2026, 3, 1)], [1.234, None]]
    entity = EntityFile("E", xlsx(rows, sheet="E"), source_format="EXCEL", file_name="E.xlsx")  # type: ignore[arg-type]
    schema = EntitySchema.of([("A", "decimal"), ("D", "date")])
    with DataPackage.open(make_package(tmp_path / "p.zip", [entity])) as package:
        frame = package.read_entity("E", schema=schema, locale=DE)
    assert frame.rows() == [
        (Decimal("1234.5"), MARCH_1),
        (Decimal("1234.5"), MARCH_1),
        (Decimal("1.234"), None),
    ]


def test_xml_values_in_en_gb(tmp_path: Path) -> None:
    data = b"<Document><R><A>1,234.5</A><D>13/03/2026 00:00:00</D></R></Document>"
    entity = EntityFile("E", data, source_format="XML-Element", file_name="E.xml", fields=("A", "D"))
    schema = EntitySchema.of([("A", "decimal"), ("D", "date")])
    with DataPackage.open(make_package(tmp_path / "p.zip", [entity])) as package:
        assert package.read_entity("E", schema=schema, locale=GB).rows() == [
            (Decimal("1234.5"), dt.date(2026, 3, 13))
        ]
        with pytest.raises(PackageValueError, match="it is written in the en-GB form"):
            package.read_entity("E", schema=schema, locale=US)


# -- an enum column that knows its members ------------------------------------------------------------

STATUS = EntitySchema((Column("ID", ColumnType.STRING), Column("S", ColumnType.ENUM, ("Open", "Closed"))))


@pytest.mark.parametrize("fmt", ["CSV", "CSV-Unicode"])
def test_an_enum_column_takes_its_members_and_refuses_any_other_value(tmp_path: Path, fmt: str) -> None:
    rows = [["ID", "S"]] + [[str(i), ("Open", "Closed", "")[i % 3]] for i in range(3000)]
    assert read(tmp_path, rows, STATUS, None, fmt)["S"].to_list() == [r[1] for r in rows[1:]]
    rows[2500][1] = "On hold"
    with pytest.raises(PackageValueError) as info:
        read(tmp_path, rows, STATUS, None, fmt)
    assert (info.value.column, info.value.row, info.value.value) == ("S", 2500, "On hold")
    assert "is not a member of the enum as F&O's $metadata lists it (Open, Closed)" in str(info.value)
    assert "enum labels instead of symbols" in str(info.value)


def test_members_match_exactly_and_an_unknown_list_takes_any_text(tmp_path: Path) -> None:
    with pytest.raises(PackageValueError, match="'open' is not a member"):
        read(tmp_path, [["ID", "S"], ["1", "open"]], STATUS, None)
    anything = EntitySchema.of([("ID", "string"), ("S", "enum")])
    assert read(tmp_path, [["ID", "S"], ["1", "On hold"]], anything, None)["S"].to_list() == ["On hold"]
