"""The entity catalog: the shipped one is valid; broken ones name the file, the entity and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from d365_assets.catalog import SHIPPED_CATALOG, CatalogError, RefreshMode, load_catalog
from d365_assets.package.schema import ColumnType


def test_shipped_catalog_has_realistic_entities() -> None:
    catalog = load_catalog()
    assert catalog.path == SHIPPED_CATALOG
    assert catalog.companies == ("USMF", "DEMF")
    names = {e.name for e in catalog.entities}
    assert {"CustomersV3", "SalesOrderLinesV2", "MainAccounts", "GeneralJournalAccountEntries"} <= names
    assert len(names) >= 8
    main_accounts = catalog.entity("MainAccounts")
    assert not main_accounts.company_specific
    assert main_accounts.natural_key == ("CHARTOFACCOUNTS", "MAINACCOUNTID")
    lines = catalog.entity("sales_order_lines_v2")
    assert lines.refresh is RefreshMode.DELTA
    assert lines.reconcile_project == "D365A-SalesOrderLinesV2-Full"
    assert lines.schema.get("LINEAMOUNT").type is ColumnType.DECIMAL
    assert catalog.entity("GeneralJournalAccountEntries").table_name == "general_journal_account_entries"


def _write(tmp_path: Path, mutate) -> Path:
    document = yaml.safe_load(SHIPPED_CATALOG.read_text(encoding="utf-8"))
    mutate(document)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _entity(document: dict, name: str) -> dict:
    return next(e for e in document["entities"] if e["name"] == name)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: _entity(d, "CustomersV3")["columns"].update({"CREDITLIMIT": "money"}),
            r"entity CustomersV3: column CREDITLIMIT has unknown type 'money'\. Fix: use one of: string",
        ),
        (
            lambda d: _entity(d, "VendorsV2").update({"natural_key": ["VENDORID"]}),
            r"entity VendorsV2: natural_key column 'VENDORID' is not one of its columns",
        ),
        (
            lambda d: _entity(d, "VendorsV2").update({"refresh": "incremental"}),
            r"entity VendorsV2: refresh 'incremental' is not full or delta\. Fix: set refresh: full or delta",
        ),
        (
            lambda d: _entity(d, "VendorsV2").update({"data_project": "D365A-CustomersV3"}),
            r"data_project 'D365A-CustomersV3' is also used by entity CustomersV3",
        ),
        (
            lambda d: _entity(d, "MainAccounts").pop("label"),
            r"entity MainAccounts: label is missing or empty",
        ),
        (
            lambda d: d.update({"companies": ["USMF", "TOOLONG"]}),
            r"companies: 'TOOLONG' is not a legal entity id",
        ),
        (
            lambda d: _entity(d, "CustomersV3").update({"refresh_cron": "every night"}),
            r"entity CustomersV3: cron 'every night' is not a 5-field cron expression",
        ),
        (
            lambda d: _entity(d, "CustomersV3").update({"colums": {}}),
            r"entity CustomersV3: unknown keys \['colums'\]",
        ),
        (
            lambda d: _entity(d, "CustomersV3").update({"freshness_hours": 0.001}),
            r"entity CustomersV3: freshness_hours 0.001 must be a number of at least one minute",
        ),
    ],
    ids=[
        "bad-type",
        "bad-key",
        "bad-refresh",
        "duplicate-project",
        "no-label",
        "bad-company",
        "bad-cron",
        "typo",
        "freshness",
    ],
)
def test_broken_catalog_names_file_entity_and_fix(tmp_path: Path, mutate, expected: str) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(CatalogError, match=expected) as raised:
        load_catalog(path)
    assert str(path) in str(raised.value)
    assert "Fix:" in str(raised.value)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist: set D365_CATALOG"):
        load_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities: [\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="is not valid YAML"):
        load_catalog(bad)


def test_columns_may_be_left_to_fo_metadata(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: _entity(d, "VendorsV2").pop("columns"))
    vendors = load_catalog(path).entity("VendorsV2")
    assert vendors.schema is None
    assert vendors.natural_key == ("VENDORACCOUNTNUMBER",)
