"""Loads as Dagster runs them: checks failing for real reasons, locks, kept packages, concurrency, kills."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from filelock import FileLock, Timeout

from d365_assets.catalog import load_catalog
from d365_assets.definitions import build_definitions
from d365_assets.defs import WarehouseResource
from d365_assets.emulator import Emulator, EmulatorConfig
from d365_assets.package import polars_dtype
from d365_assets.settings import Settings
from d365_assets.warehouse import LoadRequest, Warehouse
from tests.support.catalog import CATALOG, catalog_entity, catalog_with
from tests.support.environment import (
    TEST_ROWS,
    as_real_environment,
    embedded_settings,
    embedded_variables,
    process_environment,
)
from tests.support.runs import check_results, failure_message, hold_duckdb
from tests.support.tables import source_rows, table_rows

ROOT = Path(__file__).resolve().parents[1]


def materialize(
    settings: Settings,
    table: str,
    company: str | None,
    *,
    warehouse_lock_timeout: float | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings)
    resources = dict(defs.resources)
    if warehouse_lock_timeout is not None:
        resources["warehouse"] = WarehouseResource(
            database=settings.duckdb_path,
            package_dir=settings.package_dir,
            lock_timeout_seconds=warehouse_lock_timeout,
        )
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [defs.get_assets_def(dg.AssetKey(["d365", table]))],
            resources=resources,
            instance=instance,
            partition_key=company,
            raise_on_error=False,
            tags=tags,
        )


def test_all_checks_pass_on_a_clean_load(tmp_path: Path, emulator: Emulator) -> None:
    result = materialize(embedded_settings(emulator, tmp_path), "vendors_v2", "USMF")
    assert result.success
    checks = check_results(result)
    assert {name: c.passed for name, c in checks.items()} == {
        "package_rows_loaded": True,
        "has_rows": True,
        "natural_key_unique": True,
        "row_count_stable": True,
        "fo_count_matches": True,
    }
    assert checks["fo_count_matches"].metadata["fo_count"].value == len(
        emulator.source_rows("VendorsV2", "USMF")
    )
    assert checks["package_rows_loaded"].metadata["package_rows"].value == len(
        emulator.source_rows("VendorsV2", "USMF")
    )


def test_a_natural_key_that_repeats_fails_the_full_load_without_change(
    tmp_path: Path, emulator: Emulator
) -> None:
    catalog = catalog_with(tmp_path, "CustomersV3", natural_key=["CUSTOMERGROUPID"])
    result = materialize(embedded_settings(emulator, tmp_path, catalog=catalog), "customers_v3", "USMF")
    assert not result.success
    assert "KeyViolationError" in failure_message(result)
    assert "natural_key in the catalog does not identify a row" in failure_message(result)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers_v3'"
        ).fetchone() == (0,)


def test_a_mass_removal_is_held_until_a_run_accepts_it(tmp_path: Path, emulator: Emulator) -> None:
    settings = embedded_settings(emulator, tmp_path)
    warehouse = Warehouse(settings.duckdb_path)
    vendors = catalog_entity("VendorsV2")
    stale = pl.DataFrame(
        {c.name: pl.Series([None] * 500, dtype=polars_dtype(c.type)) for c in vendors.schema}
    ).with_columns(pl.Series("VENDORACCOUNTNUMBER", [f"GONE-{i:04d}" for i in range(500)]))
    warehouse.load(
        LoadRequest(
            entity="VendorsV2",
            table="vendors_v2",
            schema=vendors.schema,
            batches=[stale],
            company="USMF",
            mode="full",
            natural_key=vendors.natural_key,
            execution_id="stale",
        )
    )

    held = materialize(settings, "vendors_v2", "USMF")
    assert not held.success
    message = failure_message(held)
    assert "RemovalHeldError" in message
    assert "d365/held_load=accept" in message
    assert table_rows(settings.duckdb_path, vendors, "USMF")[0][0] == "GONE-0000", "nothing changed"

    accepted = materialize(settings, "vendors_v2", "USMF", tags={"d365/held_load": "accept"})
    assert accepted.success
    assert table_rows(settings.duckdb_path, vendors, "USMF") == source_rows(emulator, vendors, "USMF")

    odd = materialize(settings, "vendors_v2", "USMF", tags={"d365/held_load": "yes please"})
    assert not odd.success
    assert "is not understood" in failure_message(odd)


def test_empty_company_fails_has_rows(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path / "emulator", config=EmulatorConfig(rows={"VendorsV2": 0})) as emulator:
        result = materialize(embedded_settings(emulator, tmp_path), "vendors_v2", "DEMF")
    assert result.success
    checks = check_results(result)
    assert checks["package_rows_loaded"].passed
    assert not checks["has_rows"].passed
    assert checks["has_rows"].metadata["rows"].value == 0


def test_sharp_drop_is_held_and_warns_once_accepted(tmp_path: Path) -> None:
    config = EmulatorConfig(rows=TEST_ROWS, insert_rate=0.0, update_rate=0.0, delete_rate=0.7)
    with Emulator(state_dir=tmp_path / "emulator", config=config) as emulator:
        settings = embedded_settings(emulator, tmp_path)
        assert check_results(materialize(settings, "customers_v3", "USMF"))["row_count_stable"].passed
        emulator.advance_activity(1)
        held = materialize(settings, "customers_v3", "USMF")
        assert not held.success, "the removal guard holds a load that deletes 70% of the rows"
        result = materialize(settings, "customers_v3", "USMF", tags={"d365/held_load": "accept"})
    assert result.success
    check = check_results(result)["row_count_stable"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["rows"].value < check.metadata["warn_below"].value


def test_ambiguous_delta_key_fails_the_run_and_keeps_the_package(tmp_path: Path, emulator: Emulator) -> None:
    catalog = catalog_with(tmp_path, "SalesOrderHeadersV2", natural_key=["CURRENCYCODE"])
    settings = embedded_settings(emulator, tmp_path, catalog=catalog)
    result = materialize(settings, "sales_order_headers_v2", "USMF")
    assert not result.success
    assert "occur more than once, e.g." in failure_message(result)
    assert "natural_key in the catalog does not identify a row" in failure_message(result)
    assert list((tmp_path / "packages").glob("*/sales_order_headers_v2/USMF/*.zip"))
    with duckdb.connect(settings.duckdb_path, read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='d365'"
        ).fetchall()
    assert ("sales_order_headers_v2",) not in tables
    again = materialize(settings, "sales_order_headers_v2", "USMF")
    assert not again.success, "the kept export is loaded first, and still cannot be upserted"
    message = failure_message(again)
    assert "left at" in message
    assert "or discard that export" in message
    assert "d365/held_load=discard" in message


def test_locked_warehouse_fails_naming_the_holder_then_the_next_run_loads_the_kept_package(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A delta whose load fails must not be lost: F&O already advanced its watermark."""
    settings = embedded_settings(emulator, tmp_path)
    lines = catalog_entity("SalesOrderLinesV2")
    assert materialize(settings, "sales_order_lines_v2", "USMF").success
    emulator.advance_activity(1)
    holder = hold_duckdb(Path(settings.duckdb_path), seconds=60)
    try:
        failed = materialize(settings, "sales_order_lines_v2", "USMF", warehouse_lock_timeout=1)
    finally:
        holder.kill()
        holder.wait()
    assert not failed.success
    assert f"(PID {holder.pid})" in failure_message(failed)
    assert "Nothing was changed" in failure_message(failed)
    kept = list((tmp_path / "packages").glob("*/sales_order_lines_v2/USMF/*.zip"))
    assert len(kept) == 1

    result = materialize(settings, "sales_order_lines_v2", "USMF")
    assert result.success
    metadata = result.asset_materializations_for_node("d365_sales_order_lines_v2")[0].metadata
    assert metadata["d365/replayed_executions"].value == kept[0].stem
    assert not list((tmp_path / "packages").glob("*/sales_order_lines_v2/USMF/*.zip"))
    loaded = {row[0] for row in table_rows(settings.duckdb_path, lines, "USMF")}
    current = {row[0] for row in source_rows(emulator, lines, "USMF")}
    assert current <= loaded, "the changes of the failed run arrived through the kept package"


def test_a_run_waits_for_a_reader_to_let_go(tmp_path: Path, emulator: Emulator) -> None:
    settings = embedded_settings(emulator, tmp_path)
    assert materialize(settings, "vendors_v2", "USMF").success
    holder = hold_duckdb(Path(settings.duckdb_path), seconds=2)
    result = materialize(settings, "vendors_v2", "DEMF", warehouse_lock_timeout=60)
    holder.wait()
    assert result.success
    vendors = catalog_entity("VendorsV2")
    assert table_rows(settings.duckdb_path, vendors, "DEMF") == source_rows(emulator, vendors, "DEMF")


def make_instance_home(tmp_path: Path) -> Path:
    """A persistent instance folder, created once so concurrent runs do not race to create its storage."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    # In a child process: a disposed instance left behind here would break later definition loads.
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import dagster as dg; dg.DagsterInstance.from_config({str(home)!r}).dispose()",
        ],
        check=True,
    )
    return home


def _run_in_process(home: Path, variables: dict[str, str], job: str, company: str | None) -> subprocess.Popen:
    """Run ``job`` for ``company`` in a child process with these ``D365_*`` variables and Dagster home."""
    code = f"""
        import dagster as dg
        from d365_assets.definitions import build_definitions
        job = build_definitions().resolve_job_def({job!r})
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                instance=instance, partition_key={company!r}, raise_on_error=False
            )
        raise SystemExit(0 if result.success else 1)
    """
    env = process_environment(variables, DAGSTER_HOME=str(home))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_two_concurrent_runs_in_separate_processes(tmp_path: Path, emulator: Emulator) -> None:
    home = make_instance_home(tmp_path)
    settings, variables = embedded_settings(emulator, tmp_path), embedded_variables(emulator, tmp_path)
    runs = [
        _run_in_process(home, variables, "d365_refresh_general_journal_account_entries", "USMF"),
        _run_in_process(home, variables, "d365_refresh_customers_v3", "USMF"),
    ]
    outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    for name in ("GeneralJournalAccountEntries", "CustomersV3"):
        entity = CATALOG.entity(name)
        assert table_rows(settings.duckdb_path, entity, "USMF") == source_rows(emulator, entity, "USMF")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert sorted(r.status.value for r in instance.get_runs()) == ["SUCCESS", "SUCCESS"]


def test_a_run_killed_mid_load_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    config = EmulatorConfig(rows={**TEST_ROWS, "GeneralJournalAccountEntries": 60000})
    with Emulator(state_dir=tmp_path / "emulator", config=config) as emulator:
        settings = embedded_settings(emulator, tmp_path)
        assert materialize(settings, "general_journal_account_entries", "USMF").success
        emulator.advance_activity(1)
        gl = catalog_entity("GeneralJournalAccountEntries")
        before = table_rows(settings.duckdb_path, gl, "USMF")
        home = make_instance_home(tmp_path)
        lock = FileLock(f"{settings.duckdb_path}.lock")
        run = _run_in_process(
            home,
            embedded_variables(emulator, tmp_path),
            "d365_reconcile_general_journal_account_entries",
            "USMF",
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            try:
                lock.acquire(timeout=0)
                lock.release()
            except Timeout:
                break  # the run holds the writer lock: it is loading
            time.sleep(0.01)
        else:
            pytest.fail(f"the run never started loading: {run.communicate()[0].decode()[-2000:]}")
        run.kill()
        run.wait()
        assert table_rows(settings.duckdb_path, gl, "USMF") == before
        with duckdb.connect(settings.duckdb_path, read_only=True) as con:
            ledger = con.execute("SELECT count(*) FROM d365._load_ledger").fetchone()[0]
        assert ledger == 1


def test_a_new_upstream_column_becomes_a_table_column_and_a_dropped_one_stays_null(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert materialize(as_real_environment(emulator, tmp_path, monkeypatch), "customers_v3", "USMF").success
    emulator.stop()
    drifted = dataclasses.replace(
        emulator.config,
        extra_columns={"CustomersV3": {"CUSTOMERTIER": "string"}},
        dropped_columns={"CustomersV3": ("LANGUAGEID",)},
    )
    with Emulator(state_dir=emulator.state_dir, config=drifted) as upstream:
        result = materialize(as_real_environment(upstream, tmp_path, monkeypatch), "customers_v3", "USMF")
        rows = upstream.source_rows("CustomersV3", "USMF")
    source = {row["CUSTOMERACCOUNT"]: row["CUSTOMERTIER"] for row in rows}
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    metadata = result.asset_materializations_for_node("d365_customers_v3")[0].metadata
    assert metadata["d365/upstream_new_columns"].value == "CUSTOMERTIER"
    assert metadata["d365/upstream_missing_columns"].value == "LANGUAGEID"
    assert metadata["d365/table_columns_added"].value == "CUSTOMERTIER"
    assert ("CUSTOMERTIER", "VARCHAR") in {
        (c.name, c.type) for c in metadata["dagster/column_schema"].value.columns
    }
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT CUSTOMERACCOUNT, CUSTOMERTIER, LANGUAGEID FROM d365.customers_v3 "
            "WHERE DATAAREAID = 'USMF'"
        ).fetchall()
    assert {account: tier for account, tier, _ in rows} == source
    assert {language for *_, language in rows} == {None}


def test_columns_left_out_of_the_catalog_come_from_fo_metadata(tmp_path: Path, emulator: Emulator) -> None:
    path = catalog_with(tmp_path, "CustomersV3", without=["columns"])
    assert load_catalog(path).entity("CustomersV3").schema is None
    result = materialize(embedded_settings(emulator, tmp_path, catalog=path), "customers_v3", "USMF")
    assert result.success
    metadata = result.asset_materializations_for_node("d365_customers_v3")[0].metadata
    loaded_types = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
    shipped = catalog_entity("CustomersV3")
    assert {name: loaded_types[name] for name in shipped.schema.names} == {
        c.name: c.type.duckdb_type for c in shipped.schema
    }
    assert table_rows(str(tmp_path / "warehouse.duckdb"), shipped, "USMF") == source_rows(
        emulator, shipped, "USMF"
    )

    catalog_with(tmp_path, "CustomersV3", without=["columns"], natural_key=["CUSTOMERNUMBER"])
    failed = materialize(embedded_settings(emulator, tmp_path, catalog=path), "customers_v3", "DEMF")
    assert not failed.success
    assert "natural_key ['CUSTOMERNUMBER'] is not among the columns F&O's $metadata lists" in failure_message(
        failed
    )


def test_freshness_check_fails_once_the_catalog_window_has_passed(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MainAccounts' window is 26 h (catalog defaults): fresh now, stale when the clock says 27 h later."""
    from dagster._core.definitions.asset_checks.asset_check_factories.freshness_checks import last_update

    defs = build_definitions(embedded_settings(emulator, tmp_path))
    key = dg.AssetKey(["d365", "main_accounts"])
    asset = defs.get_assets_def(key)
    check = next(c for c in defs.asset_checks if key in {k.asset_key for k in c.check_keys})
    with dg.instance_for_test() as instance:
        assert dg.materialize([asset], resources=defs.resources, instance=instance).success
        fresh = dg.materialize(
            [asset, check],
            resources=defs.resources,
            instance=instance,
            selection=dg.AssetSelection.checks(check),
        )
        later = time.time() + 27 * 3600
        monkeypatch.setattr(last_update, "get_current_timestamp", lambda: later)  # test-only time travel
        stale = dg.materialize(
            [asset, check],
            resources=defs.resources,
            instance=instance,
            selection=dg.AssetSelection.checks(check),
        )
    assert [e.passed for e in fresh.get_asset_check_evaluations()] == [True]
    assert [e.passed for e in stale.get_asset_check_evaluations()] == [False]
