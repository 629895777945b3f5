"""Package bytes: flat zip, UTF-16 XML with BOM, CSV-Unicode and CSV data files equal to the source."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree as ET

from d365_assets.emulator import Emulator
from tests.support.catalog import shipped_entry

from .helpers import FoClient, data_rows, key_of, read_package, typed_rows

NS = "{http://schemas.microsoft.com/dynamics/2015/01/DataManagement}"


def _xml(raw: bytes) -> Element:
    assert raw[:2] == b"\xff\xfe"
    text = raw.decode("utf-16")
    assert not text.lstrip("\ufeff").startswith("<?xml")
    return ET.fromstring(text.lstrip("\ufeff"))


def test_csv_unicode_package_matches_source(client: FoClient, emulator: Emulator) -> None:
    _, data = client.export_package("D365A-CustomersV3", "USMF")
    archive, files = read_package(data)
    assert sorted(files) == ["Customers V3.csv", "Manifest.xml", "PackageHeader.xml"]
    assert all("/" not in name for name in files)
    assert all(info.compress_type == 8 for info in archive.infolist())  # deflate

    header = _xml(files["PackageHeader.xml"])
    assert header.tag == f"{NS}DataManagementPackageHeader"
    assert [child.tag.removeprefix(NS) for child in header] == [
        "Description",
        "ManifestType",
        "PackageType",
        "PackageVersion",
    ]
    assert header.findtext(f"{NS}PackageType") == "DefinitionGroup"
    assert header.findtext(f"{NS}PackageVersion") == "2"

    manifest = _xml(files["Manifest.xml"])
    assert manifest.tag == f"{NS}DataManagementPackageManifest"
    top = [child.tag.removeprefix(NS) for child in manifest]
    assert top == sorted(top)
    assert manifest.findtext(f"{NS}DefinitionGroupName") == "D365A-CustomersV3"
    entity = manifest.find(f"{NS}PackageEntityList/{NS}DataManagementPackageEntityData")
    assert entity is not None
    fields = [child.tag.removeprefix(NS) for child in entity]
    assert fields == sorted(fields)
    assert entity.findtext(f"{NS}EntityName") == "Customers V3"
    assert entity.findtext(f"{NS}TargetEntity") == "CustCustomerV3Entity"
    assert entity.findtext(f"{NS}InputFilePath") == "Customers V3.csv"
    assert entity.findtext(f"{NS}SourceFormat") == "CSV-Unicode"
    assert entity.findtext(f"{NS}DefaultRefreshType") == "FullPush"
    assert entity.findtext(f"{NS}RunBusinessLogic") == "true"
    assert entity.findtext(f"{NS}RunBusinessValidation") == "true"
    columns = list(shipped_entry("CustomersV3")["columns"])
    maps = entity.findall(f"{NS}EntityMapList/{NS}EntityMap")
    # F&O lists the field maps alphabetically, not in the file's column order (see head below)
    assert [m.findtext(f"{NS}XMLField") for m in maps] == sorted(columns) != columns
    assert [m.findtext(f"{NS}EntityField") for m in maps] == sorted(columns)

    raw = files["Customers V3.csv"]
    assert raw[:2] == b"\xff\xfe"
    text = raw.decode("utf-16-le")
    assert text.count("\n") == text.count("\r\n")
    head, rows = data_rows(raw, encoding="utf-16-le")
    assert head == columns
    loaded = typed_rows("CustomersV3", head, rows)
    assert loaded == emulator.source_rows("CustomersV3", "USMF")

    names = [row["ORGANIZATIONNAME"] for row in loaded]
    assert any("," in n for n in names)
    assert any('"' in n for n in names)
    assert any("\r\n" in n for n in names)
    assert any("Müller" in n for n in names)
    assert any("東京" in n for n in names)
    assert '"The ""Best"" Bikes"' in text
    assert "CUSTOMERACCOUNT" in text.split("\r\n")[0]
    assert "DATAAREAID" not in text.split("\r\n")[0]


@pytest.mark.parametrize(
    ("project", "entity", "company"),
    [
        ("D365A-GeneralJournalAccountEntries-Full", "GeneralJournalAccountEntries", "DEMF"),
        ("D365A-MainAccounts", "MainAccounts", "USMF"),
    ],
)
def test_utf8_csv_package_matches_source(
    client: FoClient, emulator: Emulator, project: str, entity: str, company: str
) -> None:
    _, data = client.export_package(project, company)
    _, files = read_package(data)
    label = shipped_entry(entity)["label"]
    raw = files[f"{label}.csv"]
    assert raw[:3] == b"\xef\xbb\xbf"
    head, rows = data_rows(raw, encoding="utf-8")
    assert head == list(shipped_entry(entity)["columns"])
    loaded = typed_rows(entity, head, rows)
    source = emulator.source_rows(entity, company if shipped_entry(entity)["company_specific"] else None)
    assert loaded == source
    assert len({key_of(entity, row) for row in loaded}) == len(loaded)


def test_dates_en_us_and_empty_dates(client: FoClient, emulator: Emulator) -> None:
    _, data = client.export_package("D365A-SalesOrderLinesV2-Full", "USMF")
    _, files = read_package(data)
    raw = files["Sales order lines V2.csv"].decode("utf-16-le")
    assert ",1900-01-01\r\n" in raw  # iso style; F&O's empty date
    _, data = client.export_package("D365A-SalesOrderHeadersV2-Full", "USMF")
    _, files = read_package(data)
    head, rows = data_rows(files["Sales order headers V2.csv"], encoding="utf-16-le")
    created = rows[0][head.index("ORDERCREATIONDATETIME")]
    assert created.endswith((" AM", " PM"))
    assert "/" in created
    assert typed_rows("SalesOrderHeadersV2", head, rows) == emulator.source_rows(
        "SalesOrderHeadersV2", "USMF"
    )
    gl = emulator.source_rows("GeneralJournalAccountEntries", "USMF")
    accounts = {row["MAINACCOUNTID"] for row in emulator.source_rows("MainAccounts", None)}
    assert {row["MAINACCOUNT"] for row in gl} <= accounts
    assert any(row["ACCOUNTINGCURRENCYAMOUNT"] < 0 for row in gl)
    assert any(row["DOCUMENTDATE"] is None for row in gl)


@pytest.mark.parametrize(
    ("project", "entity", "locale", "delimiter", "encoding", "sample"),
    [
        ("D365A-SalesOrderHeadersV2-Full", "SalesOrderHeadersV2", "en-US", ",", "utf-16-le", r" [AP]M$"),
        ("D365A-SalesOrderHeadersV2-EnGb", "SalesOrderHeadersV2", "en-GB", ",", "utf-16-le", r"^\d\d/\d\d/"),
        (
            "D365A-SalesOrderLinesV2-DeDe-Full",
            "SalesOrderLinesV2",
            "de-DE",
            ";",
            "utf-16-le",
            r"^\d\d\.\d\d\.",
        ),
        (
            "D365A-GeneralJournalAccountEntries-DeDe",
            "GeneralJournalAccountEntries",
            "de-DE",
            ",",
            "utf-8",
            r",",
        ),
        ("D365A-VendorsV2", "VendorsV2", "ISO", ",", "utf-16-le", r"^-?\d+\.\d{6}$"),
    ],
)
def test_each_locale_writes_its_dates_and_numbers(
    client: FoClient,
    emulator: Emulator,
    project: str,
    entity: str,
    locale: str,
    delimiter: str,
    encoding: str,
    sample: str,
) -> None:
    """An independent parser of the locale's forms reads each file back to F&O's rows."""
    _, data = client.export_package(project, "USMF")
    _, files = read_package(data)
    label = shipped_entry(entity)["label"]
    head, rows = data_rows(files[f"{label}.csv"], encoding=encoding, delimiter=delimiter)
    assert typed_rows(entity, head, rows, locale=locale) == emulator.source_rows(entity, "USMF")
    kinds = shipped_entry(entity)["columns"]
    shown = {
        kinds[name] for row in rows for name, value in zip(head, row, strict=True) if re.search(sample, value)
    }
    assert shown & {"date", "datetime", "decimal"}, "the locale's form is in the file"
    if locale == "de-DE":
        amounts = [v for row in rows for name, v in zip(head, row, strict=True) if kinds[name] == "decimal"]
        assert any("." in v for v in amounts), "thousands are grouped with a point"
        assert all(v.count(",") == 1 for v in amounts)
