"""A launchpad override of one resource field keeps every other setting (the run-config trap).

Dagster replaces a resource's whole configuration with the run config's: a value the definitions had
set falls back to the field's default. The code location therefore sets no resource field; each
unset field reads its ``D365_*`` variable when the run starts.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from d365_assets.definitions import build_definitions
from d365_assets.defs import D365Resource, WarehouseResource
from d365_assets.emulator import Emulator
from tests.support.catalog import catalog_entity
from tests.support.environment import embedded_variables
from tests.support.runs import failure_message, hold_duckdb
from tests.support.tables import source_rows, table_rows

OVERRIDE = {"resources": {"warehouse": {"config": {"lock_timeout_seconds": 1}}}}


@pytest.fixture
def variables(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The ``D365_*`` variables of the embedded backend, set; the working folder is an empty one."""
    values = embedded_variables(emulator, tmp_path / "configured")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return values


def test_an_overridden_field_keeps_the_others_on_their_variables(variables: dict[str, str]) -> None:
    warehouse = WarehouseResource(lock_timeout_seconds=1)  # what the run config above builds
    assert warehouse.target == variables["D365_DUCKDB_PATH"]
    assert warehouse.settings().resolved_package_dir() == variables["D365_PACKAGE_DIR"]
    d365 = D365Resource(poll_timeout_seconds=60)
    assert d365.environment_identity == f"emulator:{variables['D365_EMULATOR_STATE_DIR']}"
    resources = build_definitions().resources
    assert all(value is None for value in (resources["warehouse"].database, resources["d365"].tenant_id))


def test_a_failed_run_with_an_override_spools_where_the_next_refresh_looks(
    tmp_path: Path, emulator: Emulator, variables: dict[str, str]
) -> None:
    """The delta of a run whose load fails under an override is loaded by the next, plain refresh."""
    lines = catalog_entity("SalesOrderLinesV2")
    database, packages = Path(variables["D365_DUCKDB_PATH"]), Path(variables["D365_PACKAGE_DIR"])
    job = build_definitions().resolve_job_def("d365_refresh_sales_order_lines_v2")
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, partition_key="USMF").success
        emulator.advance_activity(1)
        holder = hold_duckdb(database, seconds=60)
        try:
            failed = job.execute_in_process(
                run_config=OVERRIDE, instance=instance, partition_key="USMF", raise_on_error=False
            )
        finally:
            holder.kill()
            holder.wait()
        assert not failed.success
        assert f"(PID {holder.pid})" in failure_message(failed), "the 1 s override applied"
        kept = list(packages.glob("*/sales_order_lines_v2/USMF/*.zip"))
        assert len(kept) == 1, "the export is noted under D365_PACKAGE_DIR"
        assert not list(Path.cwd().rglob("*")), "nothing went to the relative defaults"

        result = job.execute_in_process(instance=instance, partition_key="USMF")
    metadata = result.asset_materializations_for_node("d365_sales_order_lines_v2")[0].metadata
    assert metadata["d365/replayed_executions"].value == kept[0].stem
    loaded = {row[0] for row in table_rows(database, lines, "USMF")}
    assert {row[0] for row in source_rows(emulator, lines, "USMF")} <= loaded
