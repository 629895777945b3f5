"""Each check's verdict from a refresh outcome, including the cases a healthy emulator never produces."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from d365_assets.defs.checks import evaluate_checks
from d365_assets.fo import ExecutionStatus, ExportedPackage
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import RefreshMode
from d365_assets.warehouse import LoadResult
from tests.support.catalog import catalog_entity

CUSTOMERS = catalog_entity("CustomersV3")


def outcome(
    *, mode: RefreshMode = RefreshMode.FULL, package_rows: int = 10, **load: object
) -> RefreshOutcome:
    fo_row_count = load.pop("fo_row_count", package_rows)
    result = LoadResult(
        table="d365.customers_v3", company="USMF", mode=mode.value, execution_id="x", applied=True
    )
    fields = {"rows_read": package_rows, "company_rows": package_rows, "rows_inserted": package_rows, **load}
    package = ExportedPackage(
        execution_id="x", status=ExecutionStatus.SUCCEEDED, path=Path("x.zip"), size_bytes=1
    )
    return RefreshOutcome(
        entity=CUSTOMERS,
        company="USMF",
        mode=mode,
        fo_row_count=fo_row_count,
        package=package,
        load=LoadResult(**{**result.__dict__, **fields}),
        package_rows=package_rows,
    )


def verdicts(result: RefreshOutcome) -> dict[str, bool]:
    return {check.check_name: check.passed for check in evaluate_checks(result)}


def test_a_clean_full_load_passes_everything() -> None:
    assert set(verdicts(outcome()).values()) == {True}


@pytest.mark.parametrize(
    ("result", "failing"),
    [
        (outcome(company_rows=9, fo_row_count=9), "package_rows_loaded"),
        (outcome(mode=RefreshMode.DELTA, rows_inserted=3, rows_updated=5), "package_rows_loaded"),
        (outcome(package_rows=0, company_rows=0, rows_inserted=0), "has_rows"),
        (outcome(duplicate_keys=2), "natural_key_unique"),
        (outcome(previous_full_rows=100), "row_count_stable"),
        (outcome(fo_row_count=11), "fo_count_matches"),
        (outcome(fo_row_count="F&O did not answer"), "fo_count_matches"),
    ],
    ids=["full-lost-rows", "delta-lost-rows", "empty", "duplicates", "sharp-drop", "fo-count", "no-fo-count"],
)
def test_each_check_fails_on_its_own_problem(result: RefreshOutcome, failing: str) -> None:
    assert [name for name, passed in verdicts(result).items() if not passed] == [failing]


def test_row_drop_is_a_warning_and_a_replayed_execution_passes() -> None:
    drop = next(
        c for c in evaluate_checks(outcome(previous_full_rows=100)) if c.check_name == "row_count_stable"
    )
    assert drop.severity == dg.AssetCheckSeverity.WARN
    replay = outcome(applied=False, package_rows=0, company_rows=10)
    assert verdicts(replay)["package_rows_loaded"]


def test_rows_lost_in_a_full_load_also_disagree_with_fo_count() -> None:
    failing = {name for name, passed in verdicts(outcome(company_rows=9)).items() if not passed}
    assert failing == {"package_rows_loaded", "fo_count_matches"}
