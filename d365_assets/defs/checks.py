"""Asset checks evaluated from the load itself, so they need no second DuckDB connection.

The checks of a company-specific entity are partitioned like its asset (Dagster 1.13 marks a check
spec's ``partitions_def`` as a preview): each company's result stands on its own, so a failing USMF
shows as failing even after DEMF passed.
"""

from __future__ import annotations

import warnings

import dagster as dg

from d365_assets.catalog import EntityConfig
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import RefreshMode

__all__ = ["CHECK_NAMES", "entity_check_specs", "evaluate_checks"]

ROWS_MATCH = "package_rows_loaded"
HAS_ROWS = "has_rows"
KEY_UNIQUE = "natural_key_unique"
ROWS_STABLE = "row_count_stable"
FO_COUNT = "fo_count_matches"
CHECK_NAMES = (ROWS_MATCH, HAS_ROWS, KEY_UNIQUE, ROWS_STABLE, FO_COUNT)
MAX_ROW_DROP = 0.5
"""A table (or company) that shrinks below this share of its last full load's rows gets a warning."""


def entity_check_specs(spec: dg.AssetSpec, entity: EntityConfig) -> list[dg.AssetCheckSpec]:
    """The checks every entity asset carries, partitioned as its ``spec`` is."""
    scope = "the company's rows" if entity.company_specific else "the table"
    descriptions = {
        ROWS_MATCH: "Every row of the exported package was applied: package rows = rows loaded.",
        HAS_ROWS: f"After the load, {scope} are not empty.",
        KEY_UNIQUE: f"No natural key ({', '.join(entity.natural_key)}) occurs twice among {scope}.",
        ROWS_STABLE: f"Warns when {scope} drop below {MAX_ROW_DROP:.0%} of the last full load's rows.",
        FO_COUNT: (
            f"After a full load, {scope} equal F&O's own count (OData $count); warns otherwise "
            "(activity in F&O between the export and the count can explain a small difference)."
        ),
    }
    blocking = {ROWS_MATCH: True, KEY_UNIQUE: entity.refresh is RefreshMode.DELTA}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)  # partitioned checks: preview in 1.13
        return [
            dg.AssetCheckSpec(
                name,
                asset=spec.key,
                description=description,
                blocking=blocking.get(name, False),
                partitions_def=spec.partitions_def,
            )
            for name, description in descriptions.items()
        ]


def evaluate_checks(outcome: RefreshOutcome) -> list[dg.AssetCheckResult]:
    """Check results for one refresh."""
    load = outcome.load
    full = outcome.mode is RefreshMode.FULL
    loaded = load.company_rows if full else load.rows_inserted + load.rows_updated
    rows_metadata = {"package_rows": outcome.package_rows, "loaded_rows": loaded}
    if not load.applied:
        # The ledger already holds this execution: by design it was not applied a second time.
        loaded = outcome.package_rows
        rows_metadata = {"package_rows": outcome.package_rows, "already_applied": True}
    return [
        dg.AssetCheckResult(
            check_name=ROWS_MATCH, passed=loaded == outcome.package_rows, metadata=rows_metadata
        ),
        dg.AssetCheckResult(
            check_name=HAS_ROWS,
            passed=load.company_rows > 0,
            metadata={"rows": load.company_rows},
        ),
        dg.AssetCheckResult(
            check_name=KEY_UNIQUE,
            passed=load.duplicate_keys == 0,
            metadata={"duplicate_keys": load.duplicate_keys},
        ),
        _row_count_stable(load.company_rows, _full_rows_before_this_run(outcome)),
        _fo_count_matches(outcome),
    ]


def _fo_count_matches(outcome: RefreshOutcome) -> dg.AssetCheckResult:
    rows = outcome.load.company_rows
    count = outcome.fo_row_count
    if outcome.mode is not RefreshMode.FULL:
        return dg.AssetCheckResult(
            check_name=FO_COUNT,
            passed=True,
            metadata={"compared": False, "why": "delta loads carry no deletes; the reconcile compares"},
        )
    if not isinstance(count, int):
        return dg.AssetCheckResult(
            check_name=FO_COUNT,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"compared": False, "error": str(count)},
        )
    return dg.AssetCheckResult(
        check_name=FO_COUNT,
        passed=rows == count,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"compared": True, "rows": rows, "fo_count": count},
    )


def _full_rows_before_this_run(outcome: RefreshOutcome) -> int | None:
    """Rows of the last full load before this run (its first load, a replayed one included, tells)."""
    first = outcome.replayed[0] if outcome.replayed else outcome.load
    return first.previous_full_rows


def _row_count_stable(rows: int, previous_full_rows: int | None) -> dg.AssetCheckResult:
    floor = None if previous_full_rows is None else int(previous_full_rows * MAX_ROW_DROP)
    return dg.AssetCheckResult(
        check_name=ROWS_STABLE,
        passed=floor is None or rows >= floor,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": rows, "previous_full_load_rows": previous_full_rows or 0, "warn_below": floor or 0},
    )
