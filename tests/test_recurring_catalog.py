"""The catalog fields of an entity read from a recurring export job, and what they refuse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d365_assets.catalog import load_catalog
from tests.catalog_files import entity, refused, write_changed

JOB = "6D31E09F-1A2B-4C3D-8E9F-0123456789AB"


def test_a_recurring_job_and_its_company_are_read(tmp_path: Path) -> None:
    path = write_changed(
        tmp_path,
        lambda d: entity(d, "SalesOrderHeadersV2").update(
            {"recurring_activity_id": "{" + JOB + "}", "recurring_company": "usmf"}
        ),
    )
    read = load_catalog(path).entity("SalesOrderHeadersV2")
    assert read.recurring_activity_id == JOB.lower()
    assert read.recurring_company == "USMF"
    assert load_catalog(path).entity("CustomersV3").recurring_activity_id is None


def test_a_shared_entity_reads_a_recurring_job_without_a_company(tmp_path: Path) -> None:
    path = write_changed(tmp_path, lambda d: entity(d, "MainAccounts").update({"recurring_activity_id": JOB}))
    read = load_catalog(path).entity("MainAccounts")
    assert read.recurring_activity_id == JOB.lower()
    assert read.recurring_company is None


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        (
            "SalesOrderHeadersV2",
            {"recurring_activity_id": "USMF-sales-orders"},
            r"entity SalesOrderHeadersV2: recurring_activity_id 'USMF-sales-orders' is not a GUID\. "
            r"Fix: copy the recurring data job's ID from the ID column of Data management > Manage",
        ),
        (
            "SalesOrderHeadersV2",
            {"recurring_activity_id": 42},
            r"recurring_activity_id must be the recurring data job's GUID, as text",
        ),
        (
            "SalesOrderHeadersV2",
            {"recurring_activity_id": JOB},
            r"needs recurring_company: the messages of a recurring job do not say which legal entity.*"
            r"Fix: add recurring_company: the legal entity the recurring data job exports",
        ),
        (
            "SalesOrderHeadersV2",
            {"recurring_company": "USMF"},
            r"recurring_company is only for an entity read from a recurring job\. "
            r"Fix: add recurring_activity_id",
        ),
        (
            "MainAccounts",
            {"recurring_activity_id": JOB, "recurring_company": "USMF"},
            r"recurring_company is only for company-specific entities.*Fix: remove recurring_company",
        ),
        (
            "SalesOrderHeadersV2",
            {"recurring_activity_id": JOB, "recurring_company": "GBSI"},
            r"recurring_company GBSI is not one of the catalog's companies \['USMF', 'DEMF'\]",
        ),
        (
            "SalesOrderHeadersV2",
            {"recurring_activity_id": JOB, "recurring_company": "DEMF", "companies": ["USMF"]},
            r"recurring_company DEMF is not one of the entity's companies \['USMF'\]",
        ),
        (
            "SalesOrderHeadersV2",
            {"recurring_activity_id": JOB, "recurring_company": None},
            r"recurring_company None is not a legal entity id",
        ),
    ],
    ids=[
        "not-a-guid",
        "a-number",
        "no-company",
        "company-alone",
        "shared",
        "unknown",
        "not-its-own",
        "empty",
    ],
)
def test_recurring_fields_refuse_what_cannot_work(
    tmp_path: Path, name: str, changes: dict, expected: str
) -> None:
    assert re.search(expected, refused(write_changed(tmp_path, lambda d: entity(d, name).update(changes))))


def test_two_entities_cannot_read_one_recurring_job(tmp_path: Path) -> None:
    def change(document: dict) -> None:
        entity(document, "SalesOrderHeadersV2").update(recurring_activity_id=JOB, recurring_company="USMF")
        entity(document, "SalesOrderLinesV2").update(
            recurring_activity_id=JOB.lower(), recurring_company="USMF"
        )

    message = refused(write_changed(tmp_path, change))
    assert re.search(
        r"entity SalesOrderLinesV2: recurring_activity_id '6d31e09f-.*' is also used by entity "
        r"SalesOrderHeadersV2\. Fix: give every entity its own recurring job",
        message,
    )
