"""The entity catalog: the shipped one is valid; broken ones name the file, the entity and the fix."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import polars as pl
import pytest

from d365_assets.catalog import SHIPPED_CATALOG, CatalogError, load_catalog
from d365_assets.schema import RESERVED_COLUMNS, ColumnType, EntitySchema, RefreshMode
from d365_assets.warehouse import LoadRequest, Warehouse
from tests.catalog_files import (
    alias_bomb,
    entity,
    line_of,
    refused,
    shipped_text,
    write_changed,
    write_text,
)


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
    assert lines.reconcile_cron == "0 4 * * 0"
    assert lines.schema.get("LINEAMOUNT").type is ColumnType.DECIMAL
    assert catalog.entity("GeneralJournalAccountEntries").table_name == "general_journal_account_entries"
    assert catalog.entity("CustomersV3").reconcile_cron is None


def test_catalog_module_does_not_import_dagster() -> None:
    code = "import sys, d365_assets.catalog; print(sorted(m for m in sys.modules if m.startswith('dagster')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: entity(d, "CustomersV3")["columns"].update({"CREDITLIMIT": "money"}),
            r"entity CustomersV3: column CREDITLIMIT has unknown type 'money'\. Fix: use one of: string",
        ),
        (
            lambda d: entity(d, "VendorsV2").update({"natural_key": ["VENDORID"]}),
            r"entity VendorsV2: natural_key column 'VENDORID' is not one of its columns",
        ),
        (
            lambda d: entity(d, "VendorsV2").update({"refresh": "incremental"}),
            r"entity VendorsV2: refresh 'incremental' is not full or delta\. Fix: set refresh: full or delta",
        ),
        (
            lambda d: entity(d, "VendorsV2").update({"data_project": "D365A-CustomersV3"}),
            r"data_project 'D365A-CustomersV3' is also used by entity CustomersV3",
        ),
        (
            lambda d: entity(d, "MainAccounts").pop("label"),
            r"entity MainAccounts: label is missing or empty",
        ),
        (
            lambda d: d.update({"companies": ["USMF", "TOOLONG"]}),
            r"companies: 'TOOLONG' is not a legal entity id",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"colums": {}}),
            r"entity CustomersV3: unknown keys \['colums'\]",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"freshness_hours": 0.001}),
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
        "typo",
        "freshness",
    ],
)
def test_broken_catalog_names_file_entity_and_fix(tmp_path: Path, change, expected: str) -> None:
    assert re.search(expected, refused(write_changed(tmp_path, change)))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["entities"].insert(1, ["CustomersV3"]), r": entity #2: must be a mapping\. Fix: "),
        (lambda d: d.update({"version": True}), r": version: unsupported version True\. Fix: use version: 1"),
        (lambda d: d.update({"default": {}}), r": top level: unknown keys \['default'\]\. Fix: use only"),
        (lambda d: d.update({"defaults": []}), r": defaults: must be a mapping\. Fix: "),
        (
            lambda d: d["defaults"].update({"refresh_crn": "0 3 * * *"}),
            r": defaults: unknown keys \['refresh_crn'\]\. Fix: use only \['freshness_hours', "
            r"'locale', 'owners', 'reconcile_cron'",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({7: "x", "extra": 1}),
            r"entity CustomersV3: unknown keys \['7', 'extra'\]\. Fix: use only",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"freshness_hours": True}),
            r"entity CustomersV3: freshness_hours True must be a number",
        ),
        (
            lambda d: d["defaults"].update({"freshness_hours": float("inf")}),
            r": defaults: freshness_hours inf must be a number .* at most ten years",
        ),
        (
            lambda d: entity(d, "CustomersV3")["columns"].update({"CUSTOMER ACCOUNT": "string"}),
            r"entity CustomersV3: column name 'CUSTOMER ACCOUNT' is not an F&O field name",
        ),
        (
            lambda d: entity(d, "CustomersV3").update(
                {"natural_key": ["CUSTOMERACCOUNT", "customeraccount"]}
            ),
            r"entity CustomersV3: natural_key lists customeraccount twice\. Fix: list each key column once",
        ),
        (
            lambda d: entity(d, "SalesOrderLinesV2").update({"reconcile_project": "D365A-SalesOrderLinesV2"}),
            r"entity SalesOrderLinesV2: reconcile_project 'D365A-SalesOrderLinesV2' is also used by entity "
            r"SalesOrderLinesV2 as its data_project\. Fix: .*full-push project of its own",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"owners": ["finance"]}),
            r"entity CustomersV3: owner 'finance' is neither an email address nor a team:<name>\. Fix: ",
        ),
        (
            lambda d: d["defaults"].update({"owners": "team:finance"}),
            r": defaults: owners must be a list of email addresses or team:<name>\. Fix: ",
        ),
    ],
    ids=[
        "entity-not-mapping",
        "version-bool",
        "top-level-typo",
        "defaults-not-mapping",
        "defaults-typo",
        "non-text-key",
        "freshness-bool",
        "freshness-infinite",
        "column-name",
        "natural-key-twice",
        "reconcile-is-incremental",
        "owner-not-an-owner",
        "owners-not-a-list",
    ],
)
def test_wrong_shapes_and_types_name_file_entity_and_fix(tmp_path: Path, change, expected: str) -> None:
    assert re.search(expected, refused(write_changed(tmp_path, change)))


@pytest.mark.parametrize(
    ("first", "second", "key", "where"),
    [
        ("    refresh: full", "    refresh: delta", "refresh", "entity CustomersV3, "),
        (
            "      CUSTOMERACCOUNT: string",
            "      CUSTOMERACCOUNT: decimal",
            "CUSTOMERACCOUNT",
            "entity CustomersV3, ",
        ),
        ("companies: [USMF, DEMF]", "companies: [USMF]", "companies", ""),
    ],
    ids=["entity-key", "column", "top-level-key"],
)
def test_repeated_key_is_refused_naming_both_lines(
    tmp_path: Path, first: str, second: str, key: str, where: str
) -> None:
    """The second line goes right below the first (the first occurrence in the shipped catalog)."""
    lines = shipped_text().splitlines()
    first_line = line_of(shipped_text(), first)
    lines.insert(first_line, second)
    message = refused(write_text(tmp_path, "\n".join(lines) + "\n"))
    assert message.endswith(
        f": {where}line {first_line + 1}: key '{key}' appears twice in one mapping, on line {first_line} and "
        f"on line {first_line + 1}. Fix: keep one of them (YAML would silently use only the last)"
    )


def test_alias_bomb_is_refused_at_its_first_anchor_fast_and_in_little_memory(tmp_path: Path) -> None:
    lines = shipped_text().splitlines()
    at = lines.index("entities:")
    bomb = alias_bomb(levels=9, width=10)  # "i" stands for 10**9 strings
    text = "\n".join([*lines[:at], *bomb, *lines[at:]]).replace("- name: CustomersV3", "- name: *i", 1)
    path = write_text(tmp_path, text)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refused(path)
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert seconds < 1.0
    assert peak < 2 * 2**20  # the bomb, expanded, would be gigabytes
    assert f": line {at + 2}: &a is a YAML anchor; anchors and aliases are not accepted" in message
    assert (
        "Fix: write the value out in full where it is used; a configuration file needs no anchors" in message
    )


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "    group: accounts_receivable",
            "    <<: {group: accounts_receivable}",
            r": entity CustomersV3, line {line}: '<<' merge keys",
        ),
        (
            "    aot_name: CustCustomerV3Entity",
            "    aot_name: " + "[" * 5000 + "]" * 5000,
            r": line {line}: the document nests deeper than 32 levels\. Fix: flatten",
        ),
        (
            "    label: Customers V3",
            "    label: Customers\x07V3",
            r": line {line}: character U\+0007 is not allowed in YAML\. Fix: remove it",
        ),
        (
            "    label: Customers V3",
            "    label: [Customers V3",
            r": line \d+: this is not valid YAML: .*Fix: correct",
        ),
    ],
    ids=["merge-key", "deep-nesting", "control-character", "syntax"],
)
def test_yaml_the_strict_loader_refuses(tmp_path: Path, replace: str, by: str, expected: str) -> None:
    line = line_of(shipped_text(), replace)
    text = shipped_text().replace(f"{replace}\n", f"{by}\n", 1)
    assert re.search(expected.replace("{line}", str(line)), refused(write_text(tmp_path, text)))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: entity(d, "CustomersV3").update({"refresh_cron": "99 99 * * *"}),
            r"entity CustomersV3: refresh_cron '99 99 \* \* \*' is not a valid cron expression: "
            r"the minute 99 is outside 0-59\. Fix: write five fields: minute \(0-59\)",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"refresh_cron": "every night"}),
            r"entity CustomersV3: refresh_cron 'every night' is not a valid cron expression: it has 2 fields",
        ),
        (
            lambda d: entity(d, "SalesOrderLinesV2").update({"reconcile_cron": "0 4 31 4,6 *"}),
            r"entity SalesOrderLinesV2: reconcile_cron '0 4 31 4,6 \*' is not a valid cron expression: "
            r"it never fires",
        ),
        (
            lambda d: d["defaults"].update({"reconcile_cron": "0 4 * * sat-sun"}),
            r": defaults: reconcile_cron '0 4 \* \* sat-sun' is not a valid cron expression: the day of week "
            r"range 'sat-sun' runs backwards",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"reconcile_cron": "0 4 * * 0"}),
            r"entity CustomersV3: reconcile_cron is only for delta entities\. "
            r"Fix: remove it, or set refresh: delta",
        ),
    ],
    ids=["out-of-range", "not-cron", "never-fires", "defaults", "reconcile-on-full"],
)
def test_cron_is_checked_when_the_catalog_loads(tmp_path: Path, change, expected: str) -> None:
    assert re.search(expected, refused(write_changed(tmp_path, change)))


@pytest.mark.parametrize(("encoding", "byte"), [("cp1252", "0xfc"), ("utf-16", "0xff")])
def test_catalog_that_is_not_utf8_is_refused(tmp_path: Path, encoding: str, byte: str) -> None:
    """A Windows-1252 file fails at its first umlaut; a UTF-16 file ("Unicode" in Notepad) at its start."""
    text = shipped_text().replace("description: Customers (", "description: Kunden für Müller (", 1)
    line = line_of(text, next(x for x in text.splitlines() if "Müller" in x)) if encoding == "cp1252" else 1
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding=encoding)
    assert re.search(
        rf": line {line}: byte {byte} at offset \d+ is not UTF-8 text\. Fix: save the file as UTF-8",
        refused(path),
    )


def test_utf8_with_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(shipped_text(), encoding="utf-8-sig")
    assert load_catalog(path).entities == load_catalog().entities


def test_folder_as_catalog_path_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path)
    assert message == (
        f"{tmp_path}: catalog path: this is a folder, not a catalog file. Fix: D365_CATALOG must name the "
        "catalog YAML file itself (e.g. .../catalog.yaml), not its folder"
    )


def _key_loaded_at_without_columns(document: dict) -> None:
    customers = entity(document, "CustomersV3")
    customers.pop("columns")
    customers["natural_key"] = ["_loaded_at"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: entity(d, "CustomersV3")["columns"].update({"DATAAREAID": "string"}),
            "CustomersV3: column DATAAREAID",
        ),
        (
            lambda d: entity(d, "MainAccounts")["columns"].update({"dataAreaId": "string"}),
            "MainAccounts: column dataAreaId",
        ),
        (
            lambda d: entity(d, "VendorsV2")["columns"].update({"_execution_id": "string"}),
            "VendorsV2: column _execution_id",
        ),
        (
            lambda d: entity(d, "VendorsV2")["columns"].update({"_LOADED_AT": "datetime"}),
            "VendorsV2: column _LOADED_AT",
        ),
        (
            lambda d: entity(d, "SalesOrderLinesV2").update(
                {"natural_key": ["DATAAREAID", "INVENTORYLOTID"]}
            ),
            "SalesOrderLinesV2: natural_key column DATAAREAID",
        ),
        (_key_loaded_at_without_columns, "CustomersV3: natural_key column _loaded_at"),
    ],
    ids=[
        "company",
        "company-lower-case-shared",
        "execution",
        "loaded-at",
        "natural-key",
        "natural-key-no-columns",
    ],
)
def test_reserved_column_is_refused(tmp_path: Path, change, expected: str) -> None:
    message = refused(write_changed(tmp_path, change))
    assert (
        f": entity {expected} is reserved: the loader adds DATAAREAID, _EXECUTION_ID, _LOADED_AT "
        "to the tables itself. Fix: remove " in message
    )


def test_reserved_columns_are_what_the_loader_adds(tmp_path: Path) -> None:
    schema = EntitySchema.of([("ACCOUNT", "string")])
    warehouse = Warehouse(tmp_path / "warehouse.duckdb", lock_timeout=5)
    warehouse.load(
        LoadRequest(
            entity="Accounts",
            table="accounts",
            schema=schema,
            batches=[pl.DataFrame({"ACCOUNT": ["001"]})],
            company="USMF",
            mode="full",
            natural_key=["ACCOUNT"],
            execution_id="e1",
        )
    )
    with warehouse.connect(read_only=True) as con:
        columns = [row[0] for row in con.execute("DESCRIBE d365.accounts").fetchall()]
    assert {c.upper() for c in columns} - {"ACCOUNT"} == RESERVED_COLUMNS


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist: set D365_CATALOG"):
        load_catalog(tmp_path / "nope.yaml")


def test_columns_may_be_left_to_fo_metadata(tmp_path: Path) -> None:
    path = write_changed(tmp_path, lambda d: entity(d, "VendorsV2").pop("columns"))
    vendors = load_catalog(path).entity("VendorsV2")
    assert vendors.schema is None
    assert vendors.natural_key == ("VENDORACCOUNTNUMBER",)
