"""The YAML front end: D365CatalogComponent scaffolded, resolved from defs.yaml, and materialized.

The component is resolved as ``dg`` resolves it (a defs folder of a project), against the emulator
over real HTTPS into a real DuckDB file; the shipped code location is the component's instance.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import dagster as dg
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from d365_assets import definitions
from d365_assets.catalog import SHIPPED_CATALOG
from d365_assets.definitions import LOCATION_FOLDER, build_definitions
from d365_assets.defs import D365CatalogComponent
from d365_assets.defs.runs import DEFINITIONS_MODULE, LOCATION_NAME
from d365_assets.emulator import Emulator
from tests.support.catalog import catalog_entity, catalog_of
from tests.support.tables import source_rows, table_rows

ROOT = Path(__file__).resolve().parents[1]
OWNER = "team:finance_data"


def attributes(folder: Path, emulator: Emulator) -> dict[str, object]:
    """An instance's attributes: its catalog beside it, the emulator, a warehouse in ``folder``."""
    return {
        "catalog": "catalog.yaml",
        "connection": {"emulator_state_dir": str(emulator.state_dir)},
        "warehouse": {"database": str(folder / "erp.duckdb"), "package_dir": str(folder / "packages")},
        "schedules": "stopped",
        "translation": {"owners": [OWNER], "tags": {"fo_module": "{{ entity.group }}"}},
    }


def test_a_scaffolded_instance_materializes_an_entity(tmp_path: Path, emulator: Emulator) -> None:
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(D365CatalogComponent, defs_path="erp")
        scaffolded = yaml.safe_load((path / "defs.yaml").read_text(encoding="utf-8"))
        assert scaffolded["type"].endswith("D365CatalogComponent")
        assert scaffolded["attributes"] == {"catalog": "catalog.yaml"}
        assert (path / "catalog.yaml").read_text(encoding="utf-8") == SHIPPED_CATALOG.read_text(
            encoding="utf-8"
        )

        catalog_of(path / "catalog.yaml", ["VendorsV2", "MainAccounts"])  # the instance's own catalog
        document = {**scaffolded, "attributes": attributes(tmp_path, emulator)}
        (path / "defs.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert isinstance(component, D365CatalogComponent)
            graph = defs.resolve_asset_graph()
            vendors = dg.AssetKey(["d365", "vendors_v2"])
            assert set(graph.get_all_asset_keys()) == {vendors, dg.AssetKey(["d365", "main_accounts"])}
            assert graph.get(vendors).owners == [OWNER]
            assert graph.get(vendors).tags["fo_module"] == "accounts_payable"
            schedule = defs.resolve_schedule_def("d365_refresh_vendors_v2_schedule")
            assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
            with dg.instance_for_test() as instance:
                result = dg.materialize(
                    [defs.get_assets_def(vendors)],
                    resources=defs.resources,
                    instance=instance,
                    partition_key="USMF",
                )
    assert result.success
    entity = catalog_entity("VendorsV2")
    assert table_rows(tmp_path / "erp.duckdb", entity, "USMF") == source_rows(emulator, entity, "USMF")


def test_the_code_location_is_the_shipped_instance() -> None:
    """``defs`` comes from d365_assets/location/d365/defs.yaml and equals ``build_definitions()``."""
    instance = ROOT / "d365_assets" / "location" / "d365" / "defs.yaml"
    assert yaml.safe_load(instance.read_text(encoding="utf-8")) == {
        "type": "d365_assets.defs.D365CatalogComponent",
        "attributes": {},
    }
    built = build_definitions()
    shipped = definitions.defs
    assert set(shipped.resolve_asset_graph().get_all_asset_keys()) == set(
        built.resolve_asset_graph().get_all_asset_keys()
    )
    assert {j.name for j in shipped.resolve_all_job_defs()} == {j.name for j in built.resolve_all_job_defs()}
    assert {s.name for s in shipped.schedules} == {s.name for s in built.schedules}
    assert set(shipped.resources) == {"d365", "warehouse"}


def test_the_dg_project_names_the_location_the_workspace_and_the_cli_name() -> None:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = document["tool"]["dg"]["project"]
    assert project["code_location_name"] == LOCATION_NAME
    assert project["code_location_target_module"] == DEFINITIONS_MODULE
    assert project["defs_module"] == LOCATION_FOLDER
    assert "d365_assets.defs" in project["registry_modules"]
    entry_points = document["project"]["entry-points"]["dagster_dg_cli.registry_modules"]
    assert entry_points == {"d365_assets": "d365_assets.defs"}
    extras = document["project"]["optional-dependencies"]["dev"]
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split() if "==" in line)
    assert any(extra.startswith("dagster-dg-cli") for extra in extras)
    assert pins["dagster-dg-cli"] == pins["dagster"] == pins["dagster-webserver"], "one Dagster release"
