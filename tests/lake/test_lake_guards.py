"""The Delta destination's guards, schema changes, maintenance and configuration, on a local folder
(delta-rs runs the same code on Azure storage; Azurite covers what differs there)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest

from d365_assets.lake import DeltaLake, LakeConfig, LakeConfigError, maintain_table
from d365_assets.loading import KeyViolationError, LoadGuard, RemovalHeldError
from d365_assets.schema import EntitySchema
from d365_assets.settings import Settings, SettingsError
from tests.support.lake_loads import SCHEMA, accounts, frame, request
from tests.support.lake_tables import open_table, read_table


def test_guards_refuse_before_the_commit_and_an_accepted_removal_applies(lake_folder: Path) -> None:
    lake = DeltaLake(LakeConfig(str(lake_folder)))
    lake.load(request([frame(accounts(100))], execution_id="first"))

    with pytest.raises(KeyViolationError, match="occur more than once"):
        lake.load(request([frame(accounts(60)), frame(accounts(1))], execution_id="repeats"))
    nulls = frame(accounts(60)).with_columns(ACCOUNT=None)
    with pytest.raises(KeyViolationError, match="no value in natural-key"):
        lake.load(request([nulls], execution_id="nulls"))
    with pytest.raises(RemovalHeldError, match="remove 70 of the 100") as held:
        lake.load(request([frame(accounts(30))], execution_id="short"))
    assert (held.value.removed, held.value.before) == (70, 100)
    with pytest.raises(KeyViolationError):
        lake.load(request([frame(["1", "1"])], execution_id="delta-repeats", mode="delta"))
    table = open_table(lake.config, "vendors")
    assert table.version() == 1, "no refused load committed anything"
    assert read_table(table).num_rows == 100

    accepted = lake.load(
        request([frame(accounts(30))], execution_id="short", guard=LoadGuard(accept_removal=True))
    )
    assert (accepted.rows_deleted, accepted.company_rows, accepted.previous_full_rows) == (70, 30, 100)
    emptied = lake.load(request([], execution_id="empty", guard=LoadGuard(accept_removal=True)))
    assert (emptied.rows_deleted, emptied.company_rows) == (30, 0), "an accepted empty export empties it"


def test_a_new_column_is_added_and_a_dropped_one_stays_null(lake_folder: Path) -> None:
    lake = DeltaLake(LakeConfig(str(lake_folder)))
    lake.load(request([frame(accounts(10))], execution_id="first"))
    widened = frame(accounts(10)).drop("STATUS").with_columns(NOTE=pl.lit("note"))
    kept = [(c.name, c.type) for c in SCHEMA if c.name != "STATUS"]
    schema = EntitySchema.of([*kept, ("NOTE", "string")])
    loaded = lake.load(dataclasses.replace(request([widened], execution_id="second"), schema=schema))
    assert loaded.added_columns == ("NOTE",)
    rows = read_table(open_table(lake.config, "vendors"))
    assert set(rows.column("STATUS").to_pylist()) == {None}
    assert set(rows.column("NOTE").to_pylist()) == {"note"}


def test_maintenance_compacts_and_vacuums_without_changing_a_row(lake_folder: Path) -> None:
    config = LakeConfig(str(lake_folder))
    lake = DeltaLake(config)
    for number in range(4):
        lake.load(request([frame(accounts(50 + number))], execution_id=f"full-{number}"))
    before = sorted(read_table(open_table(config, "vendors")).column("ACCOUNT").to_pylist())
    result = maintain_table(config, "vendors", retention_hours=0)
    assert result is not None
    assert result.files_vacuumed >= 3, "the replaced loads' files are gone"
    after = sorted(read_table(open_table(config, "vendors")).column("ACCOUNT").to_pylist())
    assert after == before
    assert maintain_table(config, "no_such_table", retention_hours=0) is None


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"D365_DESTINATION": "delta"}, "needs D365_LAKE_URI"),
        ({"D365_DESTINATION": "parquet"}, "not understood"),
        ({"D365_DESTINATION": "delta", "D365_LAKE_URI": "https://acct.blob.core.windows.net/c"}, "az://"),
        (
            {"D365_DESTINATION": "delta", "D365_LAKE_URI": "az://c/p", "D365_LAKE_AZURITE_URL": "http://127.0.0.1:1"},
            "must be https",
        ),
        (
            {"D365_DESTINATION": "delta", "D365_LAKE_URI": "az://c/p", "D365_LAKE_ACCOUNT_NAME": "a",
             "D365_LAKE_ACCOUNT_KEY": "k", "D365_LAKE_SAS_TOKEN": "sv=1&sig=s"},
            "set one",
        ),
        ({"D365_DESTINATION": "delta", "D365_LAKE_URI": "az://c/p"}, "names no storage account"),
    ],
)  # fmt: skip
def test_a_lake_configuration_that_cannot_work_is_refused(variables: dict[str, str], problem: str) -> None:
    with pytest.raises((SettingsError, LakeConfigError), match=problem) as refused:
        Settings.from_env(variables)
    assert "sig=s" not in str(refused.value)


def test_secrets_stay_out_of_the_settings_repr_and_sas_signatures_are_redacted() -> None:
    settings = Settings.from_env(
        {
            "D365_DESTINATION": "delta",
            "D365_LAKE_URI": "abfss://c@acct.dfs.core.windows.net/d365",
            "D365_LAKE_SAS_TOKEN": "?sv=2025-11-05&sp=rwdl&sig=SECRETSIG",
        }
    )
    assert "SECRETSIG" not in repr(settings)
    config = settings.lake_config()
    assert "SECRETSIG" not in repr(config)
    assert config.redact(
        "GET https://x/c?sv=1&sig=OTHER failed, token sv=2025-11-05&sp=rwdl&sig=SECRETSIG"
    ) == ("GET https://x/c?sv=1&sig=*** failed, token sv=2025-11-05&sp=rwdl&sig=***")
    assert config.storage_options()["sas_token"].startswith("sv=")
