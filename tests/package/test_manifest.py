"""Manifest.xml and PackageHeader.xml: encodings, namespaces, missing optional elements, the real sample."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from d365_assets.package import DataPackage, EmptyEntityFileError, PackageError, check_entity_file
from d365_assets.package.manifest import parse_manifest, parse_package_header
from d365_assets.schema import EntitySchema

from .builders import EntityFile, encode_xml, header_xml, make_package, manifest_xml, unicode_csv

# ../shared/samples beside the repository (a package a real F&O environment exported; not copied in).
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "usmf_asset-major-types-01.zip"
ENTITIES = [EntityFile("Customers V3", b"", fields=("CUSTOMERACCOUNT", "CREDITLIMIT"))]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-bom", "utf-8", "utf-8-decl"])
def test_manifest_encodings(encoding: str) -> None:
    manifest = parse_manifest(encode_xml(manifest_xml(ENTITIES), encoding))
    assert manifest.definition_group == "P"
    (entity,) = manifest.entities
    assert entity.entity_name == "Customers V3"
    assert entity.input_file_path == "Customers V3.csv"
    assert entity.source_format == "CSV-Unicode"
    assert entity.target_entity == "TestEntity"
    assert entity.refresh_type == "FullPush"
    assert entity.fields == ("CUSTOMERACCOUNT", "CREDITLIMIT")
    header = parse_package_header(encode_xml(header_xml(), encoding))
    assert (header.description, header.package_type, header.package_version) == ("P", "DefinitionGroup", "2")


def test_utf16_with_declaration() -> None:
    text = '<?xml version="1.0" encoding="utf-16"?>' + manifest_xml(ENTITIES)
    assert parse_manifest(encode_xml(text, "utf-16")).entities[0].entity_name == "Customers V3"


def test_manifest_without_namespace() -> None:
    manifest = parse_manifest(manifest_xml(ENTITIES, namespace=False).encode())
    assert manifest.entities[0].fields == ("CUSTOMERACCOUNT", "CREDITLIMIT")


def test_missing_optional_elements() -> None:
    xml = (
        "<DataManagementPackageManifest><PackageEntityList><DataManagementPackageEntityData>"
        "<EntityName>E</EntityName><InputFilePath>E.csv</InputFilePath>"
        "</DataManagementPackageEntityData></PackageEntityList></DataManagementPackageManifest>"
    )
    entity = parse_manifest(xml.encode()).entities[0]
    assert entity.target_entity is None
    assert entity.refresh_type is None
    assert entity.fields == ()
    assert entity.source_format == ""


def test_wrong_root_and_malformed_xml() -> None:
    with pytest.raises(PackageError, match="root element"):
        parse_manifest(b"<Other/>")
    with pytest.raises(PackageError, match="not well-formed"):
        parse_manifest(b"<DataManagementPackageManifest>")


def test_entity_expansion_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        b"<DataManagementPackageManifest>&a;</DataManagementPackageManifest>"
    )
    with pytest.raises(PackageError):
        parse_manifest(bomb)


def test_unknown_entity_lists_the_labels(tmp_path: Path) -> None:
    path = make_package(tmp_path / "p.zip", [EntityFile("Customers V3", unicode_csv([["A"]]))])
    with DataPackage.open(path) as package, pytest.raises(PackageError) as info:
        package.entity("Vendors V2")
    assert "'Vendors V2'" in str(info.value)
    assert "'Customers V3'" in str(info.value)
    with DataPackage.open(path) as package:
        assert package.entity("customers v3").entity_name == "Customers V3"


def test_manifest_naming_a_missing_file(tmp_path: Path) -> None:
    entity = EntityFile("Customers V3", unicode_csv([["A"]]))
    path = make_package(tmp_path / "p.zip", [entity], skip_files={"Customers V3.csv"})
    schema = EntitySchema.of([("A", "string")])
    with DataPackage.open(path) as package, pytest.raises(PackageError) as info:
        package.read_entity("Customers V3", schema=schema)
    assert "Customers V3.csv" in str(info.value)
    assert "'Customers V3'" in str(info.value)


@pytest.mark.parametrize("data", [b"", unicode_csv([["A"]])], ids=["zero bytes", "header only"])
def test_an_entity_file_without_rows_and_none_at_all(tmp_path: Path, data: bytes) -> None:
    """What F&O may send for an export without rows: each has no rows; only a whole file has a header."""
    schema = EntitySchema.of([("A", "string")])
    present = make_package(tmp_path / "present.zip", [EntityFile("Customers V3", data)])
    absent = make_package(
        tmp_path / "absent.zip", [EntityFile("Customers V3", data)], skip_files={"Customers V3.csv"}
    )
    with DataPackage.open(present) as package:
        file = package.open_entity("Customers V3", schema=schema)
        assert (file.in_package, list(file.batches())) == (True, [])
        assert bool(file.header) is bool(data)
    with DataPackage.open(absent) as package:
        file = package.open_entity("Customers V3", schema=schema)
        assert (file.in_package, file.header, file.schema) == (False, (), schema)
        assert list(file.batches()) == []
        with pytest.raises(
            EmptyEntityFileError,
            match=r"absent.zip: entity 'Customers V3' \(Customers V3.csv\): "
            r"the package has no file for the entity.*accept this one load",
        ):
            check_entity_file(file, natural_key=("A",), declared=True)


# -- the real package from microsoft/Dynamics-AX-Integration -----------------------------------------


@pytest.fixture
def sample() -> Path:
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} is not available")
    return SAMPLE


def test_real_sample_manifest_and_header(sample: Path) -> None:
    with zipfile.ZipFile(sample) as archive:
        assert archive.read("Manifest.xml").startswith(b"\xff\xfe<\x00")
    with DataPackage.open(sample) as package:
        assert package.header.description == "Asset-Major-Types"
        assert package.header.package_type == "DefinitionGroup"
        assert package.header.package_version == "1"
        assert package.manifest.definition_group == "Asset-Major-Types"
        entity = package.entity("Fixed asset major type")
        assert entity.input_file_path == "Fixed asset major type.xlsx"
        assert entity.source_format == "EXCEL"
        assert entity.target_entity is None
        assert entity.refresh_type is None
        assert entity.fields == ("DESCRIPTION", "MAJORTYPEID")


def test_real_sample_excel_entity(sample: Path) -> None:
    schema = EntitySchema.of([("MAJORTYPEID", "string"), ("DESCRIPTION", "string")])
    with DataPackage.open(sample) as package:
        frame = package.read_entity("Fixed asset major type", schema=schema)
    assert frame.columns == ["MAJORTYPEID", "DESCRIPTION"]
    assert frame.height == 11
    assert frame.row(0) == ("COMP", "Computer hardware")
