"""Exports without rows, in each form F&O may send them, through the real path over HTTPS.

Which form F&O uses for an export without rows is not documented: a header row only, a zero-byte
entity file, or no entity file in the package. For a delta each means "no changes" (with a warning);
as a full load each is refused, the table left as it was, until it is accepted on purpose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from d365_assets.catalog import EntityConfig
from d365_assets.definitions import build_definitions
from d365_assets.emulator import DataProject, Emulator, EmulatorConfig
from d365_assets.package import EmptyEntityFileError
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import RefreshMode
from d365_assets.warehouse import LoadGuard, RemovalHeldError
from tests.hostile import table_state
from tests.support.catalog import catalog_entity, catalog_with
from tests.support.environment import QUICK_LIFECYCLE, TEST_ROWS, embedded_settings
from tests.support.refreshing import refresh_from, spool_in
from tests.support.tables import source_rows, table_rows

LINES = catalog_entity("SalesOrderLinesV2")
VENDORS = catalog_entity("VendorsV2")
FILTERED = "D365A-VendorsV2-FilteredOut"
EMPTY_VENDORS = dataclasses.replace(VENDORS, data_project=FILTERED)
"""Vendors through a data project whose filter matches nothing: a full export without rows."""
NO_ROWS = {
    "header": "a header row only",
    "zero_bytes": "an empty entity file",
    "no_file": "no entity file in the package",
}


@pytest.fixture(params=list(NO_ROWS))
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(tmp_path: Path, form: str) -> Iterator[Emulator]:
    config = EmulatorConfig(
        rows=TEST_ROWS,
        **QUICK_LIFECYCLE,
        empty_export=form,  # type: ignore[arg-type]
        extra_projects={FILTERED: DataProject(name=FILTERED, entity="VendorsV2")},
        empty_projects=(FILTERED,),
    )
    with Emulator(tmp_path / "emulator", config) as emulator:
        yield emulator


class Bench:
    """A warehouse and a spool, refreshed from one emulator for company USMF."""

    def __init__(self, tmp_path: Path, emulator: Emulator) -> None:
        self.emulator = emulator
        self.database = tmp_path / "warehouse.duckdb"
        self.spool = spool_in(tmp_path)

    def refresh(self, entity: EntityConfig, **kwargs: object) -> RefreshOutcome:
        return refresh_from(self.emulator, self.database.parent, entity, lock_timeout=10, **kwargs)

    def rows(self, entity: EntityConfig) -> list[tuple]:
        return table_rows(self.database, entity, "USMF")

    def source(self, entity: EntityConfig) -> list[tuple]:
        return source_rows(self.emulator, entity, "USMF")


def test_a_delta_without_rows_carries_no_changes(tmp_path: Path, emulator: Emulator, form: str) -> None:
    bench = Bench(tmp_path, emulator)
    bench.refresh(LINES)  # the first incremental export holds every row
    before = bench.rows(LINES)

    outcome = bench.refresh(LINES)
    assert (outcome.mode, outcome.package_rows, outcome.load.applied) == (RefreshMode.DELTA, 0, True)
    assert bench.rows(LINES) == before
    [warning] = outcome.warnings
    assert f"has {NO_ROWS[form]}" in warning
    assert warning.endswith(": no changes")

    emulator.advance_activity(1)
    assert bench.refresh(LINES).package_rows > 0, "the next delta carries the changes"
    assert set(bench.source(LINES)) <= set(bench.rows(LINES)), "no change was lost"
    bench.refresh(LINES, mode=RefreshMode.FULL)
    assert bench.rows(LINES) == bench.source(LINES)


def test_a_full_export_without_rows_is_refused_until_accepted(
    tmp_path: Path, emulator: Emulator, form: str
) -> None:
    bench = Bench(tmp_path, emulator)
    bench.refresh(VENDORS)
    before = table_state(bench.database, VENDORS.table_name)
    refusal: tuple[type[Exception], str] = {
        "header": (RemovalHeldError, r"would remove \d+ of the \d+ rows"),
        "zero_bytes": (EmptyEntityFileError, r"has no header row.*accept this one load"),
        "no_file": (EmptyEntityFileError, r"has no file for the entity.*accept this one load"),
    }[form]
    for _ in range(2):  # held, and held again: the export stays noted until a decision
        with pytest.raises(refusal[0], match=refusal[1]):
            bench.refresh(EMPTY_VENDORS)
        assert table_state(bench.database, VENDORS.table_name) == before

    outcome = bench.refresh(EMPTY_VENDORS, guard=LoadGuard(accept_removal=True))
    assert [load.company_rows for load in outcome.replayed] == [0]
    assert bench.rows(VENDORS) == [], "accepted on purpose: the company's rows are gone"

    assert bench.refresh(VENDORS).package_rows > 0
    assert bench.rows(VENDORS) == bench.source(VENDORS), "the next real export brings every row back"


@pytest.mark.parametrize("form", ["no_file"])
def test_a_run_is_told_how_to_accept_an_empty_full_export(tmp_path: Path, emulator: Emulator) -> None:
    catalog = catalog_with(tmp_path, "VendorsV2", data_project=FILTERED)
    settings = embedded_settings(emulator, tmp_path, catalog=catalog)
    defs = build_definitions(settings)
    vendors = defs.get_assets_def(dg.AssetKey(["d365", "vendors_v2"]))

    def materialize(**tags: str) -> dg.ExecuteInProcessResult:
        with dg.instance_for_test() as instance:
            return dg.materialize(
                [vendors], resources=defs.resources, instance=instance, partition_key="USMF",
                raise_on_error=False, tags=tags,
            )  # fmt: skip

    held = materialize()
    assert not held.success
    [failure] = [e.step_failure_data.error.message for e in held.all_events if e.is_step_failure]
    assert "EmptyEntityFileError" in failure
    assert "has no file for the entity" in failure
    assert "d365/held_load=accept" in failure

    accepted = materialize(**{"d365/held_load": "accept"})
    assert accepted.success
    metadata = accepted.asset_materializations_for_node("d365_vendors_v2")[0].metadata
    assert metadata["dagster/partition_row_count"].value == 0
    assert any("loaded as no rows, as accepted" in w for w in metadata["d365/refresh_warnings"].value)
