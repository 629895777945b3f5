"""Every source format the emulator writes, exported over HTTPS and read back by the package reader.

Also upstream schema drift: columns added in F&O and dropped from the mapping between two exports
on the same state directory, read with ``extra_columns="keep"``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from d365_assets.emulator import Emulator
from d365_assets.package import ColumnDrift, DataPackage, PackageError, PackageValueError
from d365_assets.schema import Locale
from tests.support.catalog import CATALOG
from tests.support.environment import client_for

from .helpers import small_config

VARIANTS = [
    ("D365A-CustomersV3", "CustomersV3"),  # CSV-Unicode, en-US dates
    ("D365A-CustomersV3-Csv", "CustomersV3"),
    ("D365A-CustomersV3-Utf8NoBom", "CustomersV3"),
    ("D365A-CustomersV3-Semicolon", "CustomersV3"),
    ("D365A-CustomersV3-Tab", "CustomersV3"),
    ("D365A-CustomersV3-Pipe", "CustomersV3"),
    ("D365A-CustomersV3-XmlElement", "CustomersV3"),
    ("D365A-CustomersV3-XmlAttribute", "CustomersV3"),
    ("D365A-CustomersV3-Excel", "CustomersV3"),
    ("D365A-MainAccounts-XmlElement", "MainAccounts"),
    ("D365A-MainAccounts-XmlAttribute", "MainAccounts"),
    ("D365A-MainAccounts-Excel", "MainAccounts"),
]


def export(emu: Emulator, project: str, company: str, destination: Path) -> Path:
    """Export ``project`` for ``company`` over HTTPS; returns the downloaded package."""
    with client_for(emu) as client:
        return client.export_package(
            data_project=project, legal_entity=company, destination_dir=destination
        ).path


def sort_rows(rows: list[dict[str, object]], key: tuple[str, ...]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda row: tuple(str(row[k]) for k in key))


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("formats"), small_config()) as emulator:
        yield emulator


@pytest.mark.parametrize(("project", "collection"), VARIANTS)
def test_each_format_reads_back_exactly(emu: Emulator, tmp_path: Path, project: str, collection: str) -> None:
    entity = CATALOG.entity(collection)
    path = export(emu, project, "USMF", tmp_path)
    with DataPackage.open(path) as package:
        assert package.header.description == project
        frame = package.read_entity(entity.label, schema=entity.schema, batch_rows=17)
        assert not package.open_entity(entity.label, schema=entity.schema).drift
    expected = emu.source_rows(collection, "USMF" if entity.company_specific else None)
    assert frame.columns == entity.schema.names
    assert frame.height == len(expected) > 0
    key = entity.natural_key
    assert sort_rows(frame.to_dicts(), key) == sort_rows(expected, key)


LOCALE_VARIANTS = [
    ("D365A-SalesOrderHeadersV2-Full", "SalesOrderHeadersV2", Locale.EN_US),
    ("D365A-SalesOrderHeadersV2-EnGb", "SalesOrderHeadersV2", Locale.EN_GB),
    ("D365A-SalesOrderLinesV2-DeDe-Full", "SalesOrderLinesV2", Locale.DE_DE),
    ("D365A-GeneralJournalAccountEntries-DeDe", "GeneralJournalAccountEntries", Locale.DE_DE),
    ("D365A-SalesOrderLinesV2-Full", "SalesOrderLinesV2", Locale.ISO),
]


@pytest.mark.parametrize(("project", "collection", "locale"), LOCALE_VARIANTS)
def test_each_locale_reads_back_exactly_and_only_as_declared(
    emu: Emulator, tmp_path: Path, project: str, collection: str, locale: Locale
) -> None:
    entity = CATALOG.entity(collection)
    path = export(emu, project, "USMF", tmp_path)
    with DataPackage.open(path) as package:
        frame = package.read_entity(entity.label, schema=entity.schema, locale=locale)
        # ISO dates read under every locale (and ISO's numbers in en-US and en-GB); other forms
        # only under their own locale
        others = [o for o in Locale if o is not locale and (locale is not Locale.ISO or o is Locale.DE_DE)]
        for other in others:
            with pytest.raises(
                PackageValueError, match=rf"it is written in the ([^ ]+ or )*{locale}( or [^ ]+)* form"
            ):
                package.read_entity(entity.label, schema=entity.schema, locale=other)
    key = entity.natural_key
    assert sort_rows(frame.to_dicts(), key) == sort_rows(emu.source_rows(collection, "USMF"), key)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_file_layouts(emu: Emulator, tmp_path: Path) -> None:
    csv_utf8 = _members(export(emu, "D365A-CustomersV3-Utf8NoBom", "USMF", tmp_path))
    assert csv_utf8["Customers V3.csv"].startswith(b"CUSTOMERACCOUNT,")
    semicolon = _members(export(emu, "D365A-CustomersV3-Semicolon", "USMF", tmp_path))
    text = semicolon["Customers V3.csv"].decode("utf-16")
    assert text.startswith("CUSTOMERACCOUNT;PARTYNUMBER;")
    assert "\r\n" in text
    assert "<SourceFormat>SEMICOLON-Unicode</SourceFormat>" in semicolon["Manifest.xml"].decode("utf-16")

    element = _members(export(emu, "D365A-CustomersV3-XmlElement", "USMF", tmp_path))
    xml = element["Customers V3.xml"].decode("utf-8-sig")
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>\r\n<Document>\r\n\t<CUSTCUSTOMERV3ENTITY>')
    assert "<CUSTOMERACCOUNT>US-001</CUSTOMERACCOUNT>" in xml
    assert "&#13;\n" in xml  # "Contoso Retail\r\nSan Diego": the CR survives XML line-end handling
    attribute = _members(export(emu, "D365A-CustomersV3-XmlAttribute", "USMF", tmp_path))
    xml = attribute["Customers V3.xml"].decode("utf-8-sig")
    assert '<CUSTCUSTOMERV3ENTITY CUSTOMERACCOUNT="US-001"' in xml
    assert "&#13;&#10;" in xml

    excel = _members(export(emu, "D365A-CustomersV3-Excel", "USMF", tmp_path))
    book = openpyxl.load_workbook(io.BytesIO(excel["Customers V3.xlsx"]), read_only=True)
    assert book.sheetnames == ["Customers_V3"]
    header = next(book["Customers_V3"].iter_rows(values_only=True))
    assert list(header) == CATALOG.entity("CustomersV3").schema.names
    book.close()


def test_empty_xml_fields(emu: Emulator, tmp_path: Path) -> None:
    """An empty string is ``<F />`` in XML-Element and an absent attribute in XML-Attribute."""
    rows = emu.source_rows("MainAccounts", None)
    empty = [r for r in rows if r["DEFAULTCURRENCY"] == ""]
    assert empty, "the data set should hold an empty DEFAULTCURRENCY"
    element = _members(export(emu, "D365A-MainAccounts-XmlElement", "USMF", tmp_path))
    assert "<DEFAULTCURRENCY />" in element["Main account.xml"].decode("utf-8-sig")
    attribute = _members(export(emu, "D365A-MainAccounts-XmlAttribute", "USMF", tmp_path))
    records = attribute["Main account.xml"].decode("utf-8-sig").count("<MAINACCOUNTENTITY ")
    assert attribute["Main account.xml"].decode("utf-8-sig").count("DEFAULTCURRENCY=") == records - len(empty)


DRIFT = {
    "extra_columns": {
        "CustomersV3": {"CREDITRATING": "string", "LASTREVIEWDATE": "date", "RISKSCORE": "decimal"}
    },
    "dropped_columns": {"Customers V3": ("NAMEALIAS",)},
}


@pytest.mark.parametrize(
    "project", ["D365A-CustomersV3", "D365A-CustomersV3-XmlElement", "D365A-CustomersV3-Excel"]
)
def test_schema_drift_between_two_exports(tmp_path: Path, project: str) -> None:
    entity = CATALOG.entity("CustomersV3")
    state = tmp_path / "state"
    with Emulator(state, small_config()) as before:
        first = export(before, project, "USMF", tmp_path / "1")
        with DataPackage.open(first) as package:
            assert package.open_entity(entity.label, schema=entity.schema).drift == ColumnDrift()
    with Emulator(state, small_config(**DRIFT)) as after:  # the same environment, F&O changed
        second = export(after, project, "USMF", tmp_path / "2")
        expected = after.source_rows("CustomersV3", "USMF")
    assert "NAMEALIAS" not in expected[0]
    assert "RISKSCORE" in expected[0]

    with DataPackage.open(second) as package:
        drift = package.open_entity(entity.label, schema=entity.schema).drift
        assert drift == ColumnDrift(
            added=("CREDITRATING", "LASTREVIEWDATE", "RISKSCORE"), missing=("NAMEALIAS",)
        )
        effective = package.open_entity(entity.label, schema=entity.schema).schema
        with pytest.raises(PackageError, match="lacks column"):
            package.read_entity(entity.label, schema=entity.schema)
        frame = package.read_entity(entity.label, schema=entity.schema, extra_columns="keep", batch_rows=25)
    assert effective.names == [*entity.schema.names, "CREDITRATING", "LASTREVIEWDATE", "RISKSCORE"]
    assert {c.type for c in effective.columns[len(entity.schema) :]} == {"string"}
    assert frame.columns == effective.names
    assert frame.get_column("NAMEALIAS").null_count() == frame.height
    key = entity.natural_key
    got = sort_rows(frame.to_dicts(), key)
    want = sort_rows(expected, key)
    catalog_columns = [n for n in entity.schema.names if n != "NAMEALIAS"]
    assert [{k: r[k] for k in catalog_columns} for r in got] == [
        {k: r[k] for k in catalog_columns} for r in want
    ]
    # Added columns arrive as the file's text: decimals with 6 places, dates per the project.
    scores = [r["RISKSCORE"] for r in got]
    assert scores == [f"{r['RISKSCORE']:.6f}" for r in want]
    ratings = [r["CREDITRATING"] for r in got]
    assert ratings == [r["CREDITRATING"] for r in want]
    assert "" in ratings


def test_drift_settings_survive_the_recorded_configuration(tmp_path: Path) -> None:
    from d365_assets.emulator.config import config_from_dict, config_to_dict

    config = small_config(**DRIFT)
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config
    with pytest.raises(ValueError, match="key column"):
        small_config(dropped_columns={"CustomersV3": ("CUSTOMERACCOUNT",)})
    with pytest.raises(ValueError, match="new upper-case name"):
        small_config(extra_columns={"CustomersV3": {"NAMEALIAS": "string"}})


def test_project_locales_survive_the_recorded_configuration() -> None:
    from d365_assets.emulator import DataProject
    from d365_assets.emulator.config import config_from_dict, config_to_dict

    german = DataProject("P", "Customers V3", "SEMICOLON-Unicode", locale="de-DE", enum_labels=True)
    config = small_config(extra_projects={"P": german})
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config
    recorded = {"extra_projects": {"P": {"name": "P", "entity": "Customers V3", "date_style": "en-us"}}}
    assert config_from_dict(recorded).extra_projects["P"].locale == "en-US"  # recorded before locales
    with pytest.raises(ValueError, match="locale must be one of"):
        DataProject("P", "Customers V3", locale="fr-FR")  # type: ignore[arg-type]
