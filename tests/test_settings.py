"""Settings.from_env: every D365_* variable, empty means unset, HTTPS only, the DuckDB target resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365_assets.fo import InsecureUrlError
from d365_assets.settings import DEFAULT_AUTHORITY_HOST, Settings, SettingsError

EVERY_VARIABLE = {
    "D365_ENVIRONMENT_URL": "https://contoso.operations.dynamics.com",
    "D365_TENANT_ID": "00000000-0000-0000-0000-000000000000",
    "D365_CLIENT_ID": "11111111-1111-1111-1111-111111111111",
    "D365_CLIENT_SECRET": "a-client-secret",
    "D365_CLIENT_CERTIFICATE": "/etc/d365/app.pem",
    "D365_AUTHORITY_HOST": "https://login.microsoftonline.us",
    "D365_CA_BUNDLE": "/etc/ssl/corporate-proxy.pem",
    "D365_CATALOG": "/srv/d365/catalog.yaml",
    "D365_DUCKDB_PATH": "/srv/d365/warehouse.duckdb",
    "D365_EMULATOR_STATE_DIR": "/srv/d365/emulator",
    "D365_PACKAGE_DIR": "/srv/d365/packages",
    "D365_SCHEDULES": "running",
}
FIELDS = {
    "D365_ENVIRONMENT_URL": "environment_url",
    "D365_TENANT_ID": "tenant_id",
    "D365_CLIENT_ID": "client_id",
    "D365_CLIENT_SECRET": "client_secret",
    "D365_CLIENT_CERTIFICATE": "client_certificate",
    "D365_AUTHORITY_HOST": "authority_host",
    "D365_CA_BUNDLE": "ca_bundle",
    "D365_CATALOG": "catalog_path",
    "D365_DUCKDB_PATH": "duckdb_path",
    "D365_EMULATOR_STATE_DIR": "emulator_state_dir",
    "D365_PACKAGE_DIR": "package_dir",
    "D365_SCHEDULES": "schedules",
}


def test_every_variable_sets_its_setting() -> None:
    assert set(FIELDS) == set(EVERY_VARIABLE)
    settings = Settings.from_env(EVERY_VARIABLE)
    assert {name: getattr(settings, field) for name, field in FIELDS.items()} == EVERY_VARIABLE
    assert not settings.uses_emulator
    assert "a-client-secret" not in repr(settings)


def test_nothing_set_means_the_embedded_emulator_and_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.uses_emulator
    assert settings.authority_host == DEFAULT_AUTHORITY_HOST == "https://login.microsoftonline.com"
    assert (settings.duckdb_path, settings.emulator_state_dir, settings.package_dir) == (
        "data/warehouse.duckdb",
        "data/emulator",
        "data/packages",
    )
    assert settings.catalog_path is None


@pytest.mark.parametrize("empty", ["", "   ", "\t\n"])
def test_an_empty_variable_counts_as_unset(empty: str) -> None:
    assert Settings.from_env(dict.fromkeys(EVERY_VARIABLE, empty)) == Settings()


def test_values_are_stripped() -> None:
    padded = {name: f"  {value}\n" for name, value in EVERY_VARIABLE.items()}
    assert Settings.from_env(padded) == Settings.from_env(EVERY_VARIABLE)


def test_the_process_environment_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in EVERY_VARIABLE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("D365_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("D365_CLIENT_SECRET", "")
    settings = Settings.from_env()
    assert settings.duckdb_path == str(tmp_path / "w.duckdb")
    assert settings.client_secret is None
    assert settings.uses_emulator


def test_an_on_premises_environment_under_a_namespace_is_accepted() -> None:
    url = "https://ax.contoso.com/namespaces/AXSF"
    settings = Settings.from_env(
        {"D365_ENVIRONMENT_URL": url, "D365_AUTHORITY_HOST": "https://adfs.contoso.com"}
    )
    assert settings.environment_url == url
    assert settings.authority_host == "https://adfs.contoso.com"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("D365_ENVIRONMENT_URL", "http://contoso.operations.dynamics.com"),
        ("D365_ENVIRONMENT_URL", "contoso.operations.dynamics.com"),
        ("D365_AUTHORITY_HOST", "http://login.microsoftonline.com"),
    ],
)
def test_a_url_that_is_not_https_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(InsecureUrlError) as info:
        Settings.from_env({**EVERY_VARIABLE, variable: value})
    assert variable in str(info.value)
    assert "a-client-secret" not in str(info.value)


def test_a_relative_duckdb_path_resolves_against_the_working_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"D365_DUCKDB_PATH": "data/../lake/warehouse.duckdb"})
    assert settings.duckdb_path == "data/../lake/warehouse.duckdb", "kept as given"
    assert settings.resolved_duckdb_path() == str(tmp_path.resolve() / "lake" / "warehouse.duckdb")
    assert Settings.from_env({}).resolved_duckdb_path() == str(
        tmp_path.resolve() / "data" / "warehouse.duckdb"
    )


def test_a_duckdb_path_under_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = Settings.from_env({"D365_DUCKDB_PATH": "~/warehouse.duckdb"})
    assert settings.resolved_duckdb_path() == str(tmp_path.resolve() / "warehouse.duckdb")


@pytest.mark.parametrize("target", ["md:analytics", "motherduck:analytics", ":memory:"])
def test_a_duckdb_connection_string_is_kept_as_given(target: str) -> None:
    assert Settings.from_env({"D365_DUCKDB_PATH": target}).resolved_duckdb_path() == target


@pytest.mark.parametrize(
    ("variables", "running"),
    [
        ({}, True),
        ({"D365_ENVIRONMENT_URL": "https://contoso.operations.dynamics.com"}, False),
        (
            {"D365_ENVIRONMENT_URL": "https://contoso.operations.dynamics.com", "D365_SCHEDULES": "Running"},
            True,
        ),
        ({"D365_SCHEDULES": "stopped"}, False),
    ],
    ids=["emulator", "real-environment", "real-switched-on", "emulator-switched-off"],
)
def test_schedules_run_against_the_emulator_and_wait_for_a_real_environment(
    variables: dict[str, str], running: bool
) -> None:
    assert Settings.from_env(variables).schedules_running is running


def test_an_unknown_schedules_value_is_refused_naming_the_choices() -> None:
    with pytest.raises(SettingsError, match=r"D365_SCHEDULES='on' is not understood: set it to running"):
        Settings.from_env({"D365_SCHEDULES": "on"})
