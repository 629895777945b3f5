"""The catalog's declared model: strict types, keys written empty, and the first problem in reading order."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import fields
from pathlib import Path

import pytest

from d365_assets.catalog import EntityConfig, load_catalog
from d365_assets.catalog.model import EntityEntry
from tests.catalog_files import entity, refused, write_changed


def test_entity_keys_of_the_file_are_the_fields_of_entity_config() -> None:
    """The model and the dataclass stay one shape: the file writes the schema as ``columns``."""
    assert set(EntityEntry.model_fields) == {f.name for f in fields(EntityConfig)} - {"schema"} | {"columns"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: entity(d, "CustomersV3").update({"company_specific": 1}),
            r": entity CustomersV3: company_specific must be true or false\. "
            r"Fix: set company_specific: true$",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"freshness_hours": "26"}),
            r": entity CustomersV3: freshness_hours '26' must be a number of at least one minute",
        ),
        (lambda d: d.update({"version": 1.0}), r": version: unsupported version 1\.0\. Fix: use version: 1$"),
        (
            lambda d: d.update({"companies": {"USMF"}}),
            r": companies: needs a non-empty list of legal entities\. Fix: write e\.g\. companies:",
        ),
        (
            lambda d: entity(d, "MainAccounts").update({"label": dt.date(2024, 1, 1)}),
            r": entity MainAccounts: label is missing or empty\. Fix: set label \(see the top of catalog",
        ),
        (
            lambda d: entity(d, "MainAccounts").update({"natural_key": [5]}),
            r": entity MainAccounts: natural_key column 5 is not one of its columns\. Fix: name columns",
        ),
        (
            lambda d: entity(d, "VendorsV2")["columns"].update({5: "string"}),
            r": entity VendorsV2: column name 5 is not text\. Fix: quote it as a string$",
        ),
        (
            lambda d: entity(d, "VendorsV2").update({"companies": ["USMF", "usmf"]}),
            r": entity VendorsV2: companies: a company is listed twice\. Fix: list each company once$",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"name": "Customers V3"}),
            r": entity #1: name 'Customers V3' is not a public collection name\. Fix: use e\.g\. name:",
        ),
        (lambda d: d.update({"entities": []}), r": entities: there must be a non-empty list of entities\."),
    ],
    ids=[
        "one-for-true",
        "text-for-number",
        "float-version",
        "set-of-companies",
        "date-for-text",
        "number-as-key",
        "number-as-column",
        "company-twice",
        "name-with-space",
        "no-entities",
    ],
)
def test_strict_types_refuse_what_yaml_reads_as_another_type(tmp_path: Path, change, expected: str) -> None:
    assert re.search(expected, refused(write_changed(tmp_path, change)))


@pytest.mark.parametrize(
    ("name", "key", "expected"),
    [
        ("CustomersV3", "refresh_cron", "refresh_cron None is not a valid cron expression: it is not text"),
        ("SalesOrderLinesV2", "reconcile_cron", "reconcile_cron None is not a valid cron expression"),
        ("CustomersV3", "freshness_hours", "freshness_hours None must be a number"),
        ("VendorsV2", "companies", "companies: needs a non-empty list of legal entities"),
        ("VendorsV2", "columns", "columns must map each column name to its type"),
    ],
)
def test_key_with_a_default_written_without_a_value_is_refused(
    tmp_path: Path, name: str, key: str, expected: str
) -> None:
    """``key:`` reads as null: its author meant a value, so the default does not quietly apply."""
    message = refused(write_changed(tmp_path, lambda d: entity(d, name).update({key: None})))
    assert f": entity {name}: {expected}" in message


def test_optional_keys_written_without_a_value_are_left_out(tmp_path: Path) -> None:
    def change(document: dict) -> None:
        document["defaults"] = None
        entity(document, "CustomersV3").update(
            {"aot_name": None, "description": None, "reconcile_project": None, "reconcile_cron": None}
        )
        entity(document, "VendorsV2").update({"freshness_hours": 2, "refresh_cron": "30 5 * * mon-fri"})

    catalog = load_catalog(write_changed(tmp_path, change))
    customers, vendors = catalog.entity("CustomersV3"), catalog.entity("VendorsV2")
    assert (customers.aot_name, customers.reconcile_project, customers.reconcile_cron) == (None, None, None)
    assert customers.description == "F&O data entity CustomersV3."
    assert (customers.freshness_hours, customers.refresh_cron) == (26.0, "0 2 * * *")
    assert catalog.entity("SalesOrderLinesV2").reconcile_cron == "0 4 * * 0"
    assert (vendors.freshness_hours, vendors.refresh_cron) == (2.0, "30 5 * * mon-fri")
    assert type(vendors.freshness_hours) is float


def _misspelt_label_and_typo_at_top(document: dict) -> None:
    document["defautls"] = {}
    entity(document, "CustomersV3")["lable"] = entity(document, "CustomersV3").pop("label")


def _later_entity_broken_first_entity_misspelt(document: dict) -> None:
    entity(document, "VendorsV2")["company_specific"] = "yes"
    entity(document, "CustomersV3")["lable"] = entity(document, "CustomersV3").pop("label")
    entity(document, "CustomersV3")["groupe"] = entity(document, "CustomersV3").pop("group")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_misspelt_label_and_typo_at_top, r": top level: unknown keys \['defautls'\]\. Fix: use only \["),
        (
            _later_entity_broken_first_entity_misspelt,
            r": entity CustomersV3: unknown keys \['groupe', 'lable'\]\. Fix: use only \['aot_name', ",
        ),
        (
            lambda d: entity(d, "CustomersV3").update({"name": "", "colour": "red", "refresh": "daily"}),
            r": entity #1: name '' is not a public collection name\.",
        ),
        (
            lambda d: entity(d, "SalesOrderLinesV2").update({"refresh": "daily", "natural_key": ["NOPE"]}),
            r": entity SalesOrderLinesV2: refresh 'daily' is not full or delta\.",
        ),
    ],
    ids=["top-level-first", "entity-in-order-misspelt-keys-first", "name-first", "fields-before-rules"],
)
def test_of_several_problems_the_first_met_reading_the_file_is_told(
    tmp_path: Path, change, expected: str
) -> None:
    """A misspelt key is named rather than the key it should have been, and one message names one entity."""
    message = refused(write_changed(tmp_path, change))
    assert re.search(expected, message)
    assert message.count(" Fix: ") == 1
