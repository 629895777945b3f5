"""Source formats beyond CSV (XML-Element, XML-Attribute, other delimiters) and schema drift."""

from __future__ import annotations

import codecs
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl
import pytest

from d365_assets.package import (
    DEFAULT_FORMATS,
    ColumnDrift,
    DataPackage,
    FileFormat,
    PackageError,
    PackageValueError,
)
from d365_assets.schema import EntitySchema

from .builders import EntityFile, make_package, unicode_csv
from .sample import HEADER, ROWS, SCHEMA, assert_typed, xml_attributes, xml_elements


def read_file(tmp_path: Path, data: bytes, fmt: str, *, fields: tuple[str, ...] = tuple(HEADER), **kw):
    entity = EntityFile("Customers V3", data, source_format=fmt, file_name="Customers V3.xml", fields=fields)
    path = make_package(tmp_path / "p.zip", [entity])
    with DataPackage.open(path) as package:
        return package.read_entity("Customers V3", schema=SCHEMA, **kw)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_xml_element(tmp_path: Path, encoding: str) -> None:
    declaration = f'<?xml version="1.0" encoding="{encoding.removesuffix("-sig")}"?>\r\n'
    data = (declaration + xml_elements(ROWS)).encode(encoding)
    assert_typed(read_file(tmp_path, data, "XML-Element", batch_rows=2))


def test_xml_attribute_without_manifest_fields(tmp_path: Path) -> None:
    """Columns come from the first record when the manifest has no EntityMapList; absent = empty."""
    first = ROWS[0]
    data = xml_attributes([first, *ROWS[1:]]).encode("utf-8")
    assert_typed(read_file(tmp_path, data, "XML-Attribute", fields=()))


def test_xml_record_names_and_field_case_are_tolerated(tmp_path: Path) -> None:
    text = xml_elements(ROWS, record="CustCustomerV3Entity").replace("<ACCOUNT>", "<Account>")
    text = text.replace("</ACCOUNT>", "</Account>")
    assert_typed(read_file(tmp_path, text.encode("utf-8"), "XML-Element"))


def test_xml_bad_value_names_record(tmp_path: Path) -> None:
    rows = [list(ROWS[0]) for _ in range(5)]
    rows[3][2] = "12,5"
    with pytest.raises(PackageValueError) as info:
        read_file(tmp_path, xml_elements(rows).encode("utf-8"), "XML-Element", batch_rows=2)
    assert (info.value.entity, info.value.column, info.value.row, info.value.value) == (
        "Customers V3",
        "AMOUNT",
        4,
        "12,5",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<Document><R><ACCOUNT>1</ACCOUNT><COLOR>red</COLOR></R></Document>", "field 'COLOR'"),
        (b"<Document><R><ACCOUNT>1</R></Document>", "not well-formed"),
        (b'<!DOCTYPE d [<!ENTITY x "y">]><Document/>', "not well-formed or safe"),
    ],
)
def test_xml_errors(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(PackageError, match=message):
        read_file(tmp_path, data, "XML-Element")


def test_xml_without_records_is_empty(tmp_path: Path) -> None:
    frame = read_file(tmp_path, b"<Document></Document>", "XML-Element")
    assert frame.height == 0
    assert frame.columns == SCHEMA.names


def _delimited(rows: list[list[str]], delimiter: str) -> str:
    def field(value: str) -> str:
        if any(ch in value for ch in f'{delimiter}"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(delimiter.join(field(v) for v in row) + "\r\n" for row in rows)


@pytest.mark.parametrize(
    ("fmt", "delimiter", "encoding"),
    [
        ("SEMICOLON-Unicode", ";", "utf-16-le"),
        ("SEMICOLON", ";", "utf-8"),
        ("TAB", "\t", "utf-8"),
        ("TAB-Unicode", "\t", "utf-16-le"),
        ("PIPE", "|", "utf-8"),
        ("pipe-unicode", "|", "utf-16-le"),
    ],
)
def test_named_delimited_formats(tmp_path: Path, fmt: str, delimiter: str, encoding: str) -> None:
    bom = codecs.BOM_UTF16_LE if encoding == "utf-16-le" else b""
    data = bom + _delimited([HEADER, *ROWS], delimiter).encode(encoding)
    assert_typed(read_file(tmp_path, data, fmt))


def test_format_table_is_data_and_can_be_overridden(tmp_path: Path) -> None:
    assert DEFAULT_FORMATS["TAB"] == FileFormat.delimited("\t", "utf-8")
    data = _delimited([HEADER, *ROWS], ":").encode("cp1252", errors="replace")
    entity = EntityFile("Customers V3", data, source_format="CSV", file_name="c.csv")
    path = make_package(tmp_path / "p.zip", [entity])
    formats = {"csv": FileFormat.delimited(":", "cp1252")}  # override a default, any case
    schema = EntitySchema.of([(c.name, "string") for c in SCHEMA])
    with DataPackage.open(path, formats=formats) as package:
        frame = package.read_entity("Customers V3", schema=schema)
    assert frame.get_column("ACCOUNT").to_list() == ["011000", "000042", "US-003"]


def _drift_package(tmp_path: Path, fmt: str = "CSV-Unicode") -> Path:
    """A file that lost SHIPDATE and STATUS and gained RATING and REGION (in the middle)."""
    header = ["ACCOUNT", "RATING", "NAME", "AMOUNT", "ONHOLD", "LINE", "CREATED", "REGION"]
    rows = [[r[0], f"R{i}" if i else "", r[1], r[2], r[3], r[4], r[6], "West"] for i, r in enumerate(ROWS)]
    if fmt == "XML-Element":
        body = "".join(
            "<R>" + "".join(f"<{n}>{escape(v)}</{n}>" for n, v in zip(header, row, strict=True)) + "</R>"
            for row in rows
        )
        data = f"<Document>{body.replace(chr(13), '&#13;')}</Document>".encode()
        entity = EntityFile("Customers V3", data, source_format=fmt, file_name="c.xml", fields=tuple(header))
    else:
        entity = EntityFile("Customers V3", unicode_csv([header, *rows]), source_format=fmt)
    return make_package(tmp_path / "drift.zip", [entity])


@pytest.mark.parametrize("fmt", ["CSV-Unicode", "XML-Element"])
def test_drift_keep(tmp_path: Path, fmt: str) -> None:
    path = _drift_package(tmp_path, fmt)
    with DataPackage.open(path) as package:
        drift = package.open_entity("Customers V3", schema=SCHEMA).drift
        effective = package.open_entity("Customers V3", schema=SCHEMA).schema
        with pytest.raises(PackageError, match="lacks column"):
            package.read_entity("Customers V3", schema=SCHEMA)
        frames = list(
            package.iter_entity_batches("Customers V3", schema=SCHEMA, extra_columns="keep", batch_rows=2)
        )
    assert drift == ColumnDrift(added=("RATING", "REGION"), missing=("SHIPDATE", "STATUS"))
    assert bool(drift)
    assert effective.names == [*SCHEMA.names, "RATING", "REGION"]
    assert [len(f) for f in frames] == [2, 1]
    frame = pl.concat(frames)
    assert frame.columns == effective.names
    assert frame.schema["SHIPDATE"] == pl.Date
    assert frame.schema["STATUS"] == pl.String
    assert frame.get_column("SHIPDATE").null_count() == 3
    assert frame.get_column("STATUS").null_count() == 3  # missing: NULL, not ""
    assert frame.get_column("RATING").to_list() == ["", "R1", "R2"]
    assert frame.get_column("REGION").to_list() == ["West"] * 3
    assert frame.get_column("AMOUNT").to_list()[0] == pytest.approx(1250.5)


def test_drift_only_added_columns(tmp_path: Path) -> None:
    header = [*HEADER, "EXTRA"]
    data = unicode_csv([header, *[[*r, "x"] for r in ROWS]])
    path = make_package(tmp_path / "p.zip", [EntityFile("Customers V3", data)])
    with DataPackage.open(path) as package:
        with pytest.raises(PackageError, match="does not declare"):
            package.read_entity("Customers V3", schema=SCHEMA)
        frame = package.read_entity("Customers V3", schema=SCHEMA, extra_columns="keep")
        assert package.open_entity("Customers V3", schema=SCHEMA).drift == ColumnDrift(added=("EXTRA",))
    assert_typed(frame.drop("EXTRA"))
    assert frame.get_column("EXTRA").to_list() == ["x"] * 3


def test_drift_on_a_header_only_file_and_bad_mode(tmp_path: Path) -> None:
    data = unicode_csv([[*HEADER[:-1], "NEW"]])
    path = make_package(tmp_path / "p.zip", [EntityFile("Customers V3", data)])
    with DataPackage.open(path) as package:
        frame = package.read_entity("Customers V3", schema=SCHEMA, extra_columns="keep")
        assert frame.columns == [*SCHEMA.names, "NEW"]
        assert frame.height == 0
        with pytest.raises(ValueError, match="extra_columns"):
            package.read_entity("Customers V3", schema=SCHEMA, extra_columns="drop")  # type: ignore[arg-type]
