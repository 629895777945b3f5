"""Blob origin: SAS checks (expiry, tampering), Range requests, no bearer needed, the blob's MD5."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

from defusedxml import ElementTree as ET

from d365_assets.emulator import Emulator

from .helpers import FoClient, small_config


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
        assert expired.headers["content-type"] == "application/xml"
        assert expired.content.startswith(  # Azure Storage's error XML starts with a UTF-8 BOM
            b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
        )
        text = expired.content.decode("utf-8-sig")
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
        error = ET.fromstring(gone.content)  # bytes: the parser takes the BOM and the declaration
        assert gone.content[:3] == b"\xef\xbb\xbf"
        assert error.findtext("Code") == "BlobNotFound"
        assert error.findtext("Message", "").startswith("The specified blob does not exist.\nRequestId:")


def test_the_blob_md5_as_azure_sends_it(client: FoClient) -> None:
    """Whole-blob GET: Content-MD5; ranged GET: x-ms-blob-content-md5 (the whole blob's), no Content-MD5."""
    url = _package_url(client, "D365A-CustomersV3")
    whole = client.http.get(url)
    md5 = base64.b64encode(hashlib.md5(whole.content, usedforsecurity=False).digest()).decode()
    assert whole.headers["Content-MD5"] == md5
    assert "x-ms-blob-content-md5" not in whole.headers
    part = client.http.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206
    assert part.headers["x-ms-blob-content-md5"] == md5
    assert "Content-MD5" not in part.headers


def test_blobs_without_a_stored_md5(state_dir: Path) -> None:
    with Emulator(state_dir, small_config(blob_content_md5=False)) as emu, FoClient(emu) as fo:
        url = _package_url(fo, "D365A-VendorsV2")
        for headers in ({}, {"Range": "bytes=10-"}):
            response = fo.http.get(url, headers=headers)
            assert response.status_code in (200, 206)
            assert "Content-MD5" not in response.headers
            assert "x-ms-blob-content-md5" not in response.headers


def _package_url(client: FoClient, project: str) -> str:
    execution_id = client.export(project, "USMF")
    assert client.wait_status(execution_id) == "Succeeded"
    return client.wait_url(execution_id)
