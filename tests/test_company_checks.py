"""Check results per company: a failing USMF stays visible after DEMF passes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from d365_assets.definitions import build_definitions
from d365_assets.emulator import Emulator
from d365_assets.package import polars_dtype
from d365_assets.warehouse import LoadRequest, Warehouse
from tests.support.catalog import catalog_entity
from tests.support.environment import embedded_settings

VENDORS = dg.AssetKey(["d365", "vendors_v2"])
STABLE = dg.AssetCheckKey(VENDORS, "row_count_stable")


def load_stale_rows(database: str, company: str, rows: int) -> None:
    """A full load of ``rows`` vendors that F&O no longer has, as if an earlier export had brought them."""
    vendors = catalog_entity("VendorsV2")
    stale = pl.DataFrame(
        {c.name: pl.Series([None] * rows, dtype=polars_dtype(c.type)) for c in vendors.schema}
    ).with_columns(pl.Series("VENDORACCOUNTNUMBER", [f"GONE-{i:04d}" for i in range(rows)]))
    request = LoadRequest(
        entity="VendorsV2",
        table="vendors_v2",
        schema=vendors.schema,
        batches=[stale],
        company=company,
        mode="full",
        natural_key=vendors.natural_key,
        execution_id=f"stale-{company}",
    )
    Warehouse(database).load(request)


def test_each_company_keeps_its_own_check_result(tmp_path: Path, emulator: Emulator) -> None:
    settings = embedded_settings(emulator, tmp_path)
    load_stale_rows(settings.duckdb_path, "USMF", rows=500)
    defs = build_definitions(settings)
    spec = next(s for s in defs.get_assets_def(VENDORS).check_specs if s.key == STABLE)
    assert spec.partitions_def is not None
    assert spec.partitions_def.get_partition_keys() == ["USMF", "DEMF"]
    with dg.instance_for_test() as instance:
        for company, tags in (("USMF", {"d365/held_load": "accept"}), ("DEMF", None)):
            result = dg.materialize(
                [defs.get_assets_def(VENDORS)],
                resources=defs.resources,
                instance=instance,
                partition_key=company,
                tags=tags,
            )
            (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == STABLE.name]
            assert evaluation.partition == company
        latest = {
            info.partition_key: info.latest_execution_status.name
            for info in instance.event_log_storage.get_asset_check_partition_info([STABLE])
        }
    # USMF dropped below half of its last full load; DEMF is as F&O has it.
    assert latest == {"USMF": "FAILED", "DEMF": "SUCCEEDED"}
