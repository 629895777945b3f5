"""The whole path: Dagster job -> msal + DMF over HTTPS -> package -> DuckDB, checked row by row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from d365_assets.definitions import build_definitions
from d365_assets.emulator import Emulator
from d365_assets.schema import RefreshMode
from tests.support.catalog import CATALOG
from tests.support.environment import (
    as_real_environment,
    embedded_settings,
    embedded_variables,
    process_environment,
)
from tests.support.tables import checksum, source_rows, table_rows

ROOT = Path(__file__).resolve().parents[1]


def run_main_job(
    defs: dg.Definitions, instance: dg.DagsterInstance, tags: dict[str, str] | None = None
) -> None:
    job = defs.resolve_job_def("d365_refresh_all")
    for company in CATALOG.companies:
        result = job.execute_in_process(
            instance=instance, partition_key=company, tags=tags, raise_on_error=False
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        checks = result.get_asset_check_evaluations()
        assert checks, "the checks must run with every materialization"
        assert all(check.passed for check in checks), [c for c in checks if not c.passed]


def assert_tables_equal_source(database: Path, emulator: Emulator, *, modes: set[RefreshMode]) -> None:
    for entity in CATALOG.entities:
        if entity.refresh not in modes:
            continue
        for company in entity.companies if entity.company_specific else [None]:
            loaded, source = table_rows(database, entity, company), source_rows(emulator, entity, company)
            assert len(loaded) == len(source), f"{entity.name} {company}"
            assert checksum(loaded) == checksum(source), f"{entity.name} {company}: first difference " + str(
                next(((a, b) for a, b in zip(loaded, source, strict=True) if a != b), None)
            )


def test_embedded_emulator_full_delta_and_reconcile(tmp_path: Path, emulator: Emulator) -> None:
    """Default backend (no D365_ENVIRONMENT_URL): full load, a delta after activity, then reconcile."""
    settings = embedded_settings(emulator, tmp_path)
    database = Path(settings.duckdb_path)
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        run_main_job(defs, instance)
        assert_tables_equal_source(database, emulator, modes={RefreshMode.FULL, RefreshMode.DELTA})

        lines = CATALOG.entity("SalesOrderLinesV2")
        for _ in range(3):  # three deltas, each after simulated inserts, updates and deletes
            emulator.advance_activity(1)
            run_main_job(defs, instance)
            assert_tables_equal_source(database, emulator, modes={RefreshMode.FULL})
            loaded = set(table_rows(database, lines, "USMF"))
            current = set(source_rows(emulator, lines, "USMF"))
            assert current <= loaded, "every inserted and updated line arrived with its current values"
            assert loaded - current, "deletes never travel in a DMF delta, so the table still has them"

        run_main_job(defs, instance, tags={"d365/mode": "reconcile"})
        assert_tables_equal_source(database, emulator, modes={RefreshMode.FULL, RefreshMode.DELTA})

        events = instance.fetch_materializations(
            dg.AssetKey(["d365", "sales_order_lines_v2"]), limit=10
        ).records
        latest = events[0].asset_materialization.metadata
        assert latest["d365/mode"].value == "full"
        assert latest["d365/rows_deleted"].value > 0
        assert latest["dagster/table_name"].value == "warehouse.d365.sales_order_lines_v2"


def test_real_environment_by_configuration_only(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator addressed as a real environment: URL, tenant, client id, secret and CA from settings."""
    settings = as_real_environment(emulator, tmp_path, monkeypatch)
    database = settings.duckdb_path
    customers = CATALOG.entity("CustomersV3")
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [defs.get_assets_def(dg.AssetKey(["d365", "customers_v3"]))],
            resources=defs.resources,
            instance=instance,
            partition_key="DEMF",
        )
    assert result.success
    assert not Path(settings.emulator_state_dir).exists(), "no embedded emulator may start when a URL is set"
    assert table_rows(database, customers, "DEMF") == source_rows(emulator, customers, "DEMF")
    metadata = result.asset_materializations_for_node("d365_customers_v3")[0].metadata
    assert metadata["dagster/partition_row_count"].value == len(source_rows(emulator, customers, "DEMF"))
    assert metadata["d365/execution_id"].value.startswith("D365A-CustomersV3-")
    rendered = repr(metadata)
    assert emulator.client_secret not in rendered
    assert "sig=" not in rendered


@pytest.mark.e2e
def test_demo_command_records_runs_and_prints_summary(tmp_path: Path) -> None:
    """`d365-assets demo` (what `make demo` runs) in a fresh process and a persistent instance."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = process_environment(embedded_variables(tmp_path / "emulator", tmp_path), DAGSTER_HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "d365_assets.cli", "demo"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for entity in CATALOG.entities:
        for company in entity.companies if entity.company_specific else ["(shared)"]:
            row = next(line.split() for line in lines if line.startswith(f"d365.{entity.table_name} ") and
                       line.split()[1] == company)  # fmt: skip
            assert int(row[2]) > 0
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        runs = instance.get_runs()
        assert len(runs) == len(CATALOG.companies)
        assert {run.job_name for run in runs} == {"d365_refresh_all"}
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)


def test_certificate_credential_by_configuration(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D365_CLIENT_CERTIFICATE instead of a secret: msal signs a client assertion with the app's key."""
    settings = as_real_environment(emulator, tmp_path, monkeypatch, certificate=True)
    assert settings.client_secret is None
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [defs.get_assets_def(dg.AssetKey(["d365", "main_accounts"]))],
            resources=defs.resources,
            instance=instance,
        )
    assert result.success
    accounts = CATALOG.entity("MainAccounts")
    assert table_rows(settings.duckdb_path, accounts, None) == source_rows(emulator, accounts, None)


@pytest.mark.parametrize("certificate", [False, True], ids=["secret", "certificate"])
def test_on_premises_sign_in_through_adfs(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, certificate: bool
) -> None:
    """F&O on-premises: the environment under /namespaces/AXSF, tokens from AD FS (msal's AD FS path)."""
    settings = as_real_environment(emulator, tmp_path, monkeypatch, certificate=certificate, on_premises=True)
    assert settings.tenant_id == "adfs"
    customers = CATALOG.entity("CustomersV3")
    defs = build_definitions(settings)
    emulator.clear_requests()
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [defs.get_assets_def(dg.AssetKey(["d365", "customers_v3"]))],
            resources=defs.resources,
            instance=instance,
            partition_key="USMF",
        )
    assert result.success
    assert table_rows(settings.duckdb_path, customers, "USMF") == source_rows(emulator, customers, "USMF")
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["fo_count_matches"], "F&O's own $count, asked under /namespaces/AXSF, matches the rows"
    authority = {(r.method, r.path) for r in emulator.requests if r.origin == "authority"}
    assert authority == {("GET", "/adfs/.well-known/openid-configuration"), ("POST", "/adfs/oauth2/token/")}
    fo_paths = [r.path for r in emulator.requests if r.origin == "fo"]
    assert fo_paths
    assert all(path.startswith("/namespaces/AXSF/data/") for path in fo_paths)
