"""Blob origin: SAS checks (expiry, tampering), Range requests, no bearer needed."""

from __future__ import annotations

import time
from pathlib import Path

from d365_assets.emulator import Emulator

from .conftest import small_config
from .helpers import FoClient


def test_expired_and_tampered_sas_are_403(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(sas_lifetime_seconds=1)) as emu, FoClient(emu) as fo:
        execution_id = fo.export("D365A-VendorsV2", "USMF")
        fo.wait_status(execution_id)
        url = fo.wait_url(execution_id)
        assert fo.http.get(url).status_code == 200

        tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
        response = fo.http.get(tampered)
        assert response.status_code == 403
        assert response.headers["x-ms-error-code"] == "AuthenticationFailed"

        time.sleep(2.1)
        expired = fo.http.get(url)
        assert expired.status_code == 403
        assert expired.headers["x-ms-error-code"] == "AuthenticationFailed"
        text = expired.text
        assert text.startswith(
            '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
        )
        assert "Server failed to authenticate the request." in text
        assert "Signature not valid in the specified time frame: Start [" in text
        assert "Current [" in text

        fresh = fo.wait_url(execution_id)  # a new SAS on every call
        assert fresh != url
        assert fo.http.get(fresh).status_code == 200


def test_range_request_and_no_bearer(client: FoClient, emulator: Emulator) -> None:
    execution_id = client.export("D365A-CustomersV3", "DEMF")
    client.wait_status(execution_id)
    url = client.wait_url(execution_id)
    whole = client.http.get(url)
    assert whole.status_code == 200
    assert int(whole.headers["content-length"]) == len(whole.content)
    part = client.http.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206
    assert part.content == whole.content[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(whole.content) - 1}/{len(whole.content)}"
    blob_requests = [r for r in emulator.requests if r.origin == "blob"]
    assert blob_requests
    assert not any(r.had_authorization for r in blob_requests)
    assert all("sig" not in r.path for r in emulator.requests)


def test_blob_gone_after_retention(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(retention_seconds=0.5)) as emu, FoClient(emu) as fo:
        execution_id = fo.export("D365A-VendorsV2", "USMF")
        fo.wait_status(execution_id)
        url = fo.wait_url(execution_id)
        time.sleep(0.6)
        gone = fo.http.get(url)
        assert gone.status_code == 404
        assert gone.headers["x-ms-error-code"] == "BlobNotFound"
