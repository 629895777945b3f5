"""All state is on disk: a new Emulator on the same state directory is the same environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365_assets.emulator import Emulator

from .helpers import FoClient, data_rows, read_package, small_config


def test_state_survives_restart(state_dir: Path) -> None:
    with Emulator(state_dir, small_config()) as first, FoClient(first) as fo:
        credentials = (first.tenant_id, first.client_id, first.client_secret)
        ca = first.ca_bundle.read_bytes()
        execution_id, package = fo.export_package("D365A-PurchaseOrderHeadersV2", "USMF")
        first.advance_activity(2)

    with Emulator(state_dir, small_config()) as second, FoClient(second) as fo:
        assert (second.tenant_id, second.client_id, second.client_secret) == credentials
        assert second.ca_bundle.read_bytes() == ca
        assert second.current_round() == 2
        assert fo.wait_status(execution_id) == "Succeeded"
        assert fo.download(fo.wait_url(execution_id)) == package
        assert second.watermark("D365A-PurchaseOrderHeadersV2", "USMF") == 0
        _, delta = fo.export_package("D365A-PurchaseOrderHeadersV2", "USMF")
        _, rows = data_rows(read_package(delta)[1]["Purchase order headers V2.csv"], encoding="utf-16-le")
        assert 0 < len(rows) < len(second.source_rows("PurchaseOrderHeadersV2", "USMF"))
    for key in ("ca-key.pem", "server-key.pem", "credentials.json"):
        assert (state_dir / key).stat().st_mode & 0o077 == 0


def test_two_emulators_share_one_state_dir(state_dir: Path) -> None:
    with Emulator(state_dir, small_config()) as a, Emulator(state_dir, small_config()) as b:
        assert a.environment_url != b.environment_url
        with FoClient(a) as fa, FoClient(b) as fb:
            execution_id = fa.export("D365A-VendorsV2", "USMF")
            assert fb.wait_status(execution_id) == "Succeeded"
            a.advance_activity(1)
            assert b.current_round() == 1


def test_environment_settings_are_recorded(state_dir: Path) -> None:
    Emulator(state_dir, small_config(seed=11))
    adopted = Emulator(state_dir)  # no config: the recorded environment, e.g. a Dagster step process
    assert adopted.config.seed == 11
    assert adopted.config.rows["CustomersV3"] == 60
    with pytest.raises(ValueError, match="other data settings"):
        Emulator(state_dir, small_config(seed=12))
