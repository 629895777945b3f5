"""Runs of the command line as ordinary runs: created from the code location the workspace names.

(The e2e test tests/e2e/test_demo_runs.py shows the UI treating them as its own.)
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from d365_assets.cli import share_slots
from d365_assets.defs.automation import MAIN_JOB
from d365_assets.defs.runs import (
    DEFINITIONS_ATTRIBUTE,
    DEFINITIONS_MODULE,
    LOCATION_NAME,
    REPOSITORY_NAME,
    code_location,
    create_run,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_workspace_serves_the_location_the_cli_runs_name() -> None:
    """The UI matches a run to a loaded location by name: both must say the same."""
    [entry] = yaml.safe_load((ROOT / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]
    module = entry["python_module"]
    assert (module["location_name"], module["module_name"], module["attribute"]) == (
        LOCATION_NAME,
        DEFINITIONS_MODULE,
        DEFINITIONS_ATTRIBUTE,
    )


def test_a_run_carries_origin_partition_and_tags() -> None:
    with dg.instance_for_test() as instance, code_location(instance) as location:
        run = create_run(instance, location, job_name=MAIN_JOB, partition_key="USMF", tags={"d365/x": "y"})
        stored = instance.get_run_by_id(run.run_id)
        assert stored is not None
        assert stored.status is dg.DagsterRunStatus.NOT_STARTED
        origin = stored.remote_job_origin
        assert origin is not None
        assert (origin.location_name, origin.repository_origin.repository_name) == (
            LOCATION_NAME,
            REPOSITORY_NAME,
        )
        assert stored.job_code_origin is not None
        assert stored.tags["dagster/partition"] == "USMF"
        assert stored.tags["d365/x"] == "y"


def test_an_unknown_company_is_refused_before_a_run_exists() -> None:
    with dg.instance_for_test() as instance, code_location(instance) as location:
        with pytest.raises(ValueError, match=r"'XXXX' is not a partition of d365_refresh_all .*USMF"):
            create_run(instance, location, job_name=MAIN_JOB, partition_key="XXXX")
        assert instance.get_runs() == []


@pytest.mark.parametrize(
    ("exports", "slots", "shares"),
    [
        ([9, 8], 4, [2, 2]),  # the shipped catalog: 5 and 4 rounds, as one pool of 4 would take
        ([9, 8, 8], 4, [2, 1, 1]),
        ([9], 4, [4]),
        ([3, 9], 6, [2, 4]),
        ([9, 8, 8, 8, 8], 4, [1, 1, 1, 1, 1]),  # more runs than slots: the pool bounds them
    ],
)
def test_runs_executing_at_once_share_the_export_slots(
    exports: list[int], slots: int, shares: list[int]
) -> None:
    assert share_slots(exports, slots=slots) == shares


def test_a_run_may_lower_the_steps_it_executes_at_once() -> None:
    """The executor takes ``max_concurrent`` from the run's config (the demo's share of the pool)."""
    with dg.instance_for_test() as instance, code_location(instance) as location:
        config = {"execution": {"config": {"max_concurrent": 2}}}
        run = create_run(instance, location, job_name=MAIN_JOB, partition_key="USMF", run_config=config)
        assert run.run_config == config
        with pytest.raises(dg.DagsterInvalidConfigError):
            create_run(
                instance, location, job_name=MAIN_JOB, partition_key="USMF",
                run_config={"execution": {"config": {"max_concurrent": "two"}}},
            )  # fmt: skip
