"""Materialization metadata: Dagster's table keys and one typed d365/ set; a summary link that opens."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from d365_assets.definitions import build_definitions
from d365_assets.defs import D365MetadataSet
from d365_assets.emulator import Emulator
from d365_assets.settings import Settings
from tests.support.environment import as_real_environment, embedded_settings

VENDORS = dg.AssetKey(["d365", "vendors_v2"])


def materialized_metadata(settings: Settings) -> dict[str, dg.MetadataValue]:
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [defs.get_assets_def(VENDORS)], resources=defs.resources, instance=instance, partition_key="USMF"
        )
    return dict(result.asset_materializations_for_node("d365_vendors_v2")[0].metadata)


def test_the_embedded_emulator_s_summary_page_is_not_linked(tmp_path: Path, emulator: Emulator) -> None:
    """Its port lives only as long as the run's process: a link to it could never be opened."""
    metadata = materialized_metadata(embedded_settings(emulator, tmp_path))
    d365 = D365MetadataSet.extract(metadata)
    assert d365.execution_summary is None
    assert "d365/execution_summary" not in metadata
    assert d365.mode == "full"
    assert d365.package_rows == d365.rows_inserted == metadata["dagster/partition_row_count"].value
    assert d365.seconds_export_wait is not None
    assert d365.seconds_parse_and_load is not None
    assert metadata["dagster/table_name"].value == "warehouse.d365.vendors_v2"


def test_a_real_environment_s_summary_page_is_linked(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata = materialized_metadata(as_real_environment(emulator, tmp_path, monkeypatch))
    link = D365MetadataSet.extract(metadata).execution_summary
    assert link is not None
    assert link.url.startswith(emulator.environment_url)
