"""Damaged zip bytes (a corrupt or cut-short download) raise PackageIntegrityError on every read path."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import polars as pl
import pytest

from d365_assets.package import DataPackage, PackageError, PackageIntegrityError
from d365_assets.schema import EntitySchema

from .builders import (
    EntityFile,
    damage_entry,
    entry_data_span,
    flip_byte,
    make_package,
    truncate,
    unicode_csv,
    utf8_csv,
    wrong_crc,
    xlsx,
)
from .sample import HEADER, ROWS, SCHEMA, xml_elements

NUMBERED = EntitySchema.of([("N", "integer"), ("S", "string")])


def _numbered_rows(count: int) -> list[list[str]]:
    rng = random.Random(7)  # varied text, so the deflate stream is long and any flipped byte matters
    return [["N", "S"]] + [[str(i), f"{rng.getrandbits(64):x}, {i}"] for i in range(count)]


def _entity(fmt: str) -> EntityFile:
    """Customers V3 in ``fmt``, as F&O would package it."""
    if fmt == "EXCEL":
        return EntityFile(
            "Customers V3", xlsx([HEADER, *ROWS], sheet="Customers_V3"), fmt, "Customers V3.xlsx"
        )
    if fmt == "XML-Element":
        data = xml_elements(ROWS).encode("utf-8")
        return EntityFile("Customers V3", data, fmt, "Customers V3.xml", fields=tuple(HEADER))
    return EntityFile(
        "Customers V3",
        unicode_csv([HEADER, *ROWS]) if fmt == "CSV-Unicode" else utf8_csv([HEADER, *ROWS]),
        fmt,
    )


def _read(path: Path) -> pl.DataFrame:
    with DataPackage.open(path) as package:
        return package.read_entity("Customers V3", schema=SCHEMA)


def _assert_names_the_fix(error: PackageIntegrityError, *names: str) -> None:
    for name in names:
        assert repr(name) in str(error) or name in str(error)
    assert "download or export the package again" in str(error)


@pytest.mark.parametrize("fmt", ["CSV-Unicode", "CSV", "XML-Element", "EXCEL"])
def test_a_bad_crc_of_the_entity_file_is_refused_on_every_format(tmp_path: Path, fmt: str) -> None:
    entity = _entity(fmt)
    path = make_package(tmp_path / "p.zip", [entity])
    _read(path)  # intact, it reads
    wrong_crc(path, entity.path)
    with pytest.raises(PackageIntegrityError) as info:
        _read(path)
    _assert_names_the_fix(info.value, "p.zip", entity.path)
    assert "CRC" in str(info.value)


@pytest.mark.parametrize("fmt", ["CSV-Unicode", "CSV", "XML-Element", "EXCEL"])
@pytest.mark.parametrize("at", [0.1, 0.5, 0.9])
def test_flipped_bytes_in_the_entity_file_are_refused_on_every_format(
    tmp_path: Path, fmt: str, at: float
) -> None:
    entity = _entity(fmt)
    path = make_package(tmp_path / "p.zip", [entity])
    damage_entry(path, entity.path, at=at)
    with pytest.raises(PackageIntegrityError) as info:
        _read(path)
    _assert_names_the_fix(info.value, "p.zip", entity.path)


@pytest.mark.parametrize("fmt", ["CSV-Unicode", "CSV"])
def test_damage_met_by_the_csv_parser_is_an_integrity_error(tmp_path: Path, fmt: str) -> None:
    """Damage late in the file is met by the CSV parser's stream, not by the header read: the
    error still comes out as an integrity error, not zlib's or zipfile's through pyarrow."""
    rows = _numbered_rows(20_000)
    data = utf8_csv(rows) if fmt == "CSV" else unicode_csv(rows)
    path = make_package(tmp_path / "p.zip", [EntityFile("E", data, fmt)])
    damage_entry(path, "E.csv", at=0.97)
    with DataPackage.open(path) as package:
        assert not package.open_entity("E", schema=NUMBERED).drift  # the header still reads
        with pytest.raises(PackageIntegrityError) as info:
            list(package.iter_entity_batches("E", schema=NUMBERED, batch_rows=1000))
    _assert_names_the_fix(info.value, "p.zip", "E.csv")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_zip_is_refused_at_open(tmp_path: Path, keep: float) -> None:
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv(_numbered_rows(2000)))])
    truncate(path, keep=keep)
    with pytest.raises(PackageIntegrityError) as info:
        DataPackage.open(path)
    _assert_names_the_fix(info.value, str(path))
    assert "truncated or damaged" in str(info.value)


@pytest.mark.parametrize("member", ["Manifest.xml", "PackageHeader.xml"])
def test_a_damaged_manifest_or_header_is_refused_at_open(tmp_path: Path, member: str) -> None:
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv([["A"], ["1"]]))])
    wrong_crc(path, member)
    with pytest.raises(PackageIntegrityError) as info:
        DataPackage.open(path)
    _assert_names_the_fix(info.value, "p.zip", member)


def test_a_directory_pointing_outside_the_file_is_refused_at_open(tmp_path: Path) -> None:
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv([["A"], ["1"]]))])
    data = path.read_bytes()
    record = data.index(b"PK\x01\x02")  # the first directory record; its local header offset at +42
    path.write_bytes(data[: record + 42] + b"\xff\xff\xff\x7f" + data[record + 46 :])
    with pytest.raises(PackageIntegrityError, match="outside the zip's data"):
        DataPackage.open(path)


def test_not_a_zip_is_an_integrity_error(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_text("<html>Service unavailable</html>")
    with pytest.raises(PackageIntegrityError, match=r"is not a zip file \(it starts with b'<h'\)"):
        DataPackage.open(path)


def test_any_flipped_byte_is_refused_or_harmless(tmp_path: Path) -> None:
    """Every 5th byte of a whole package, headers and directory included, flipped in turn: the
    read either raises PackageError (mostly PackageIntegrityError) or returns the intact rows
    (a flip in a timestamp or a version field changes nothing read)."""
    source = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv(_numbered_rows(40)))])
    intact = source.read_bytes()
    expected = _read_numbered(source)
    damaged = tmp_path / "d.zip"
    outcomes: dict[str, int] = {}
    for offset in range(0, len(intact), 5):
        damaged.write_bytes(intact)
        flip_byte(damaged, offset)
        try:
            outcome = "same" if _read_numbered(damaged).equals(expected) else "CHANGED"
        except PackageError as error:
            outcome = type(error).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert "CHANGED" not in outcomes
    assert outcomes["PackageIntegrityError"] > outcomes.get("PackageError", 0) + outcomes.get("same", 0)


def _read_numbered(path: Path) -> pl.DataFrame:
    with DataPackage.open(path) as package:
        return package.read_entity("E", schema=NUMBERED)


def test_the_data_span_helper_finds_the_compressed_bytes(tmp_path: Path) -> None:
    """Guards the tests above: the span they damage is exactly the entry's deflate stream."""
    data = unicode_csv(_numbered_rows(40))
    path = make_package(tmp_path / "p.zip", [EntityFile("E", data)])
    start, end = entry_data_span(path, "E.csv")
    assert zlib.decompress(path.read_bytes()[start:end], -zlib.MAX_WBITS) == data
