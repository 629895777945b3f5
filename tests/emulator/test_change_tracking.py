"""Incremental projects: first export full, then inserts+updates only, then empty; never deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365_assets.emulator import DataProject, Emulator

from .helpers import FoClient, data_rows, key_of, read_package, small_config, typed_rows

PROJECT, ENTITY, FILE = "D365A-SalesOrderHeadersV2", "SalesOrderHeadersV2", "Sales order headers V2.csv"


def _export(client: FoClient) -> list[dict[str, object]]:
    _, data = client.export_package(PROJECT, "USMF")
    _, files = read_package(data)
    head, rows = data_rows(files[FILE], encoding="utf-16-le")
    return typed_rows(ENTITY, head, rows)


def test_full_then_delta_then_empty(client: FoClient, emulator: Emulator) -> None:
    before = {key_of(ENTITY, r): r for r in emulator.source_rows(ENTITY, "USMF")}
    first = _export(client)
    assert {key_of(ENTITY, r): r for r in first} == before
    assert emulator.watermark(PROJECT, "USMF") == 0

    emulator.advance_activity(1)
    after = {key_of(ENTITY, r): r for r in emulator.source_rows(ENTITY, "USMF")}
    inserted = after.keys() - before.keys()
    deleted = before.keys() - after.keys()
    updated = {k for k in after.keys() & before.keys() if after[k] != before[k]}
    assert inserted
    assert deleted
    assert updated

    delta = _export(client)
    delta_keys = {key_of(ENTITY, r) for r in delta}
    assert delta_keys == inserted | updated
    assert not delta_keys & deleted
    assert all(row == after[key_of(ENTITY, row)] for row in delta)  # whole, current rows
    assert emulator.watermark(PROJECT, "USMF") == 1

    assert _export(client) == []
    # the other company and the reconcile project keep their own state
    assert emulator.watermark(PROJECT, "DEMF") is None
    _, data = client.export_package("D365A-SalesOrderHeadersV2-Full", "USMF")
    assert len(data_rows(read_package(data)[1][FILE], encoding="utf-16-le")[1]) == len(after)


def test_activity_admin_route(client: FoClient, emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {client.token()}"}
    url = f"{emulator.environment_url}/_emulator/activity"
    assert client.http.post(url, json={"rounds": 2}).status_code == 401
    response = client.http.post(url, json={"rounds": 2}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"round": 2}
    assert emulator.current_round() == 2


@pytest.mark.parametrize("form", ["header", "zero_bytes", "no_file"])
def test_an_export_without_rows_takes_the_configured_form(state_dir: Path, form: str) -> None:
    extra = {"Empty-Vendors": DataProject(name="Empty-Vendors", entity="VendorsV2")}
    config = small_config(empty_export=form, extra_projects=extra, empty_projects=("Empty-Vendors",))
    with Emulator(state_dir, config) as emulator, FoClient(emulator) as client:
        client.export_package(PROJECT, "USMF")  # the first incremental export is full
        _, nothing_new = client.export_package(PROJECT, "USMF")
        _, filtered_out = client.export_package("Empty-Vendors", "USMF")
    for data, file in ((nothing_new, FILE), (filtered_out, "Vendors V2.csv")):
        archive, files = read_package(data)
        assert f"<InputFilePath>{file}</InputFilePath>" in files["Manifest.xml"].decode("utf-16"), (
            "the manifest names the entity's file in every form"
        )
        if form == "no_file":
            assert file not in archive.namelist()
        elif form == "zero_bytes":
            assert files[file] == b""
        else:
            head, rows = data_rows(files[file], encoding="utf-16-le")
            assert head
            assert rows == []
