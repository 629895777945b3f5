"""What the reader cannot read exactly it refuses, naming the place and the fix: short years,
a quote left open at the end of a file, headers with unnamed or repeated columns, bytes that are
not text, malformed sheets."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import polars as pl
import pytest

from d365_assets.package import DataPackage, PackageError, PackageValueError
from d365_assets.schema import EntitySchema, Locale

from .builders import EntityFile, make_package, unicode_csv, utf8_csv, xlsx

TWO = EntitySchema.of([("A", "string"), ("B", "string")])
ONE = EntitySchema.of([("A", "string")])


def _package(tmp_path: Path, data: bytes, fmt: str = "CSV", **kw) -> Path:
    entity = EntityFile("E", data, source_format=fmt, **kw)
    return make_package(tmp_path / "p.zip", [entity])


def _read(
    tmp_path: Path, data: bytes, schema: EntitySchema, fmt: str = "CSV", locale: Locale | None = None, **kw
) -> pl.DataFrame:
    with DataPackage.open(_package(tmp_path, data, fmt, **kw)) as package:
        return package.read_entity("E", schema=schema, locale=locale)


def _encode(text: str, fmt: str) -> bytes:
    return text.encode("utf-8") if fmt == "CSV" else b"\xff\xfe" + text.encode("utf-16-le")


# -- a year is written with 4 digits ---------------------------------------------------------
# (in en-US, which also writes dates without a time: 3/1/2026)


@pytest.mark.parametrize("value", ["3/1/26", "3/1/26 12:00:00 AM", "3/1/026", "26-03-01", "3/1/26 2:05 PM"])
@pytest.mark.parametrize("kind", ["date", "datetime"])
@pytest.mark.parametrize("fmt", ["CSV", "CSV-Unicode"])
def test_a_two_digit_year_is_refused(tmp_path: Path, value: str, kind: str, fmt: str) -> None:
    schema = EntitySchema.of([("ID", "string"), ("D", kind)])
    rows = [["ID", "D"], ["a", "3/1/2026"], ["b", ""], ["c", value], ["d", "2026-03-01"]]
    data = utf8_csv(rows) if fmt == "CSV" else unicode_csv(rows)
    with pytest.raises(PackageValueError) as info:
        _read(tmp_path, data, schema, fmt, locale=Locale.EN_US)
    error = info.value
    assert (error.entity, error.column, error.row, error.value) == ("E", "D", 3, value)
    assert "a 4-digit year is required" in str(error)
    assert "source data format" in str(error)


def test_a_two_digit_year_late_in_a_large_file_is_refused_with_its_row(tmp_path: Path) -> None:
    """The earlier batches come back typed; the batch holding the short year is read
    again as text, and the row number counts from the file's start."""
    schema = EntitySchema.of([("N", "integer"), ("D", "date"), ("T", "datetime")])
    rows = [["N", "D", "T"]] + [[str(i), "3/1/2026", "3/1/2026 2:05:00 PM"] for i in range(1, 5001)]
    rows[4321][2] = "3/1/26 2:05:00 PM"
    path = _package(tmp_path, utf8_csv(rows))
    frames = []
    with DataPackage.open(path) as package, pytest.raises(PackageValueError) as info:
        frames.extend(package.iter_entity_batches("E", schema=schema, batch_rows=500, locale=Locale.EN_US))
    assert (info.value.column, info.value.row, info.value.value) == ("T", 4321, "3/1/26 2:05:00 PM")
    assert [f.height for f in frames] == [500] * 8  # rows before the bad batch were returned typed
    assert frames[0]["D"][0] == dt.date(2026, 3, 1)


def test_a_two_digit_year_in_xml_is_refused(tmp_path: Path) -> None:
    data = b"<Document><R><ID>a</ID><D>2026-03-01</D></R><R><ID>b</ID><D>1/2/99</D></R></Document>"
    schema = EntitySchema.of([("ID", "string"), ("D", "date")])
    with pytest.raises(PackageValueError, match="4-digit year") as info:
        _read(tmp_path, data, schema, "XML-Element", Locale.EN_US, file_name="E.xml", fields=("ID", "D"))
    assert (info.value.row, info.value.value) == (2, "1/2/99")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3/1/2026", dt.date(2026, 3, 1)),
        ("03/01/2026 12:00:00 AM", dt.date(2026, 3, 1)),
        ("2026-03-01T00:00:00", dt.date(2026, 3, 1)),
        ("0026-03-01", dt.date(26, 3, 1)),  # 4 digits: taken as written
    ],
)
def test_four_digit_years_still_read(tmp_path: Path, value: str, expected: dt.date) -> None:
    schema = EntitySchema.of([("D", "date")])
    assert _read(tmp_path, utf8_csv([["D"], [value]]), schema, locale=Locale.EN_US)["D"].to_list() == [
        expected
    ]


# -- a quote left open at the end of the file ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["CSV", "CSV-Unicode"])
@pytest.mark.parametrize(
    ("text", "row"),
    [
        ('A,B\r\n1,x\r\n2,"abc\r\n', 2),  # the closing quote and the line break were lost
        ('A,B\r\n1,x\r\n2,"abc', 2),
        ('A,B\r\n1,x\r\n2,"ab""c\r\ndef\r\n', 2),
        ('A,B\r\n1,"x\r\n', 1),
    ],
)
def test_a_quote_left_open_at_the_end_is_refused(tmp_path: Path, fmt: str, text: str, row: int) -> None:
    with pytest.raises(PackageError) as info:
        _read(tmp_path, _encode(text, fmt), TWO, fmt)
    message = str(info.value)
    assert "p.zip: entity 'E' (E.csv)" in message
    assert f"a quoted value in data row {row} is never closed" in message
    assert "the file is truncated or malformed: export it again" in message


@pytest.mark.parametrize("fmt", ["CSV", "CSV-Unicode"])
@pytest.mark.parametrize("ending", ["\r\n", ""])
def test_a_closed_quote_with_a_line_break_ends_the_file_legitimately(
    tmp_path: Path, fmt: str, ending: str
) -> None:
    """The value a truncated file would give ("abc" and a line break) is a legal last value when
    its quote is closed, with or without a final line break."""
    text = 'A,B\r\n1,x\r\n2,"abc\r\n"' + ending
    frame = _read(tmp_path, _encode(text, fmt), TWO, fmt)
    assert frame.rows() == [("1", "x"), ("2", "abc\r\n")]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("A\r\n1\r\n", ["1"]),
        ("A\r\n1", ["1"]),
        ("A\r\n1\r\n\r\n", ["1", ""]),  # a one-column file's empty line is an empty value
        ('A\r\n"x\r\n"\r\n', ["x\r\n"]),
        ("A\n1\n2", ["1", "2"]),
        ("A\r\n", []),
        ("A", []),
    ],
)
def test_one_column_files_end_legitimately(tmp_path: Path, text: str, values: list[str]) -> None:
    assert _read(tmp_path, text.encode("utf-8"), ONE)["A"].to_list() == values


def test_a_one_column_file_with_a_quote_left_open_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="data row 2 is never closed"):
        _read(tmp_path, b'A\r\n1\r\n"2\r\n', ONE)


def test_a_quote_left_open_in_the_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"cannot read the header row.*export it again"):
        _read(tmp_path, b'A,"B\r\n1,2\r\n', TWO)


def test_the_end_of_a_multi_block_file_is_checked(tmp_path: Path) -> None:
    """Above the parser's 4 MiB block the file arrives in several batches: every row but the end
    marker comes back, and a quote left open in the last row is still found."""
    rows = [["A", "B"]] + [[str(i), f'text "{i}", and more'] for i in range(150_000)]
    text = "".join(",".join(f'"{v.replace(chr(34), 2 * chr(34))}"' for v in row) + "\r\n" for row in rows)
    assert len(text) > 5 << 20
    with DataPackage.open(_package(tmp_path, text.encode("utf-8"))) as package:
        frames = list(package.iter_entity_batches("E", schema=TWO, batch_rows=40_000))
    assert [f.height for f in frames] == [40_000, 40_000, 40_000, 30_000]
    assert frames[-1]["B"][-1] == 'text "149999", and more'
    broken = text.encode("utf-8") + b'150000,"the end was lost\r\n'
    with pytest.raises(PackageError, match="data row 150001 is never closed"):
        _read(tmp_path, broken, TWO)


# -- every header column has a name of its own ----------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("A,B,", "header column 3 has no name (the header row ends with a delimiter)"),
        ("A,,B", "header column 2 has no name;"),
        ("A, ,B", "header column 2 has no name;"),
        ("A,B,A", "header columns 1 and 3 are both named 'A'"),
        ("A,B,b", "header columns 2 and 3 are named 'B' and 'b' (names match case-insensitively)"),
    ],
)
@pytest.mark.parametrize("extra_columns", ["error", "keep"])
def test_unnamed_or_repeated_header_columns_are_refused(
    tmp_path: Path, header: str, message: str, extra_columns: str
) -> None:
    data = f"{header}\r\n1,2,3\r\n".encode()
    with DataPackage.open(_package(tmp_path, data)) as package:
        with pytest.raises(PackageError) as info:
            package.read_entity("E", schema=TWO, extra_columns=extra_columns)  # type: ignore[arg-type]
        with pytest.raises(PackageError):
            package.open_entity("E", schema=TWO)
    assert "p.zip: entity 'E' (E.csv): " + message in str(info.value)
    assert "check the data project's field mapping in F&O" in str(info.value)


def test_an_empty_first_line_is_refused_not_read_as_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="the header row, is empty"):
        _read(tmp_path, b"\r\nA,B\r\n1,2\r\n", TWO)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["A", None, "B"], ["1", "x", "2"]], "header column 2 has no name"),
        ([["A", "B", "a"], ["1", "2", "3"]], "header columns 1 and 3 are named 'A' and 'a'"),
        ([[None, None], ["A", "B"], ["1", "2"]], "the first row, the header row, is empty"),
    ],
)
def test_excel_headers_are_checked_too(tmp_path: Path, rows: list[list[str | None]], message: str) -> None:
    data = xlsx(rows, sheet="E")
    with pytest.raises(PackageError, match=message):
        _read(tmp_path, data, TWO, "EXCEL", file_name="E.xlsx")


def test_xml_fields_named_twice_are_refused(tmp_path: Path) -> None:
    data = b"<Document><R><A>1</A><B>2</B></R></Document>"
    with pytest.raises(PackageError, match="header columns 1 and 3 are both named 'A'"):
        _read(tmp_path, data, TWO, "XML-Element", file_name="E.xml", fields=("A", "B", "A"))


# -- bytes that are not text, malformed sheets ------------------------------------------------------


def test_bytes_that_are_not_utf8_are_named_with_the_column(tmp_path: Path) -> None:
    """Past the header's first read, invalid UTF-8 is met by the CSV parser."""
    body = "".join(f"r{i},2026-03-01\r\n" for i in range(20_000)).encode()
    data = b"A,B\r\n" + body + b"x\xffy,2026-03-01\r\n"
    schema = EntitySchema.of([("A", "string"), ("B", "date")])
    with pytest.raises(PackageError) as info:
        _read(tmp_path, data, schema)
    assert "p.zip: entity 'E' (E.csv): column A holds bytes that are not valid utf-8 text" in str(info.value)
    assert "encoding of the data project's source data format" in str(info.value)


def test_a_malformed_sheet_is_a_package_error(tmp_path: Path) -> None:
    book = zipfile.ZipFile(io.BytesIO(xlsx([["A", "B"], ["1", "2"]], sheet="E")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for name in book.namelist():
            data = book.read(name)
            damaged.writestr(name, data[: len(data) // 2] if name.endswith("sheet1.xml") else data)
    with pytest.raises(PackageError, match=r"\(E.xlsx\): the sheet is malformed \(ParseError"):
        _read(tmp_path, out.getvalue(), TWO, "EXCEL", file_name="E.xlsx")
