"""The download is checked against the blob's MD5 when the blob host tells it (Azure's headers).

Through the real client with an httpx transport as the seam; the emulator's own MD5 headers and
its ``blob_corrupt`` fault are exercised in test_trust_emulator.py.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx
import pytest

from d365_assets.fo import PackageDownloadError

from .fakes import SIG, FakeClock, FakeFinOps, md5_of, package_bytes


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _corrupted(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def test_a_matching_md5_passes(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.md5 = md5_of(fake.package)
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.path.read_bytes() == fake.package
    assert len(fake.blob_requests) == 1


def test_a_mismatch_is_downloaded_afresh(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.md5 = md5_of(fake.package)
    md5 = base64.b64encode(fake.md5).decode()
    bad = _corrupted(fake.package)
    fake.blob_faults.append(lambda r: httpx.Response(200, content=bad, headers={"Content-MD5": md5}))
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.path.read_bytes() == fake.package
    assert len(fake.blob_requests) == 2
    assert "Range" not in fake.blob_requests[1].headers  # a fresh download, not a resume


def test_a_mismatch_that_persists_is_a_download_error(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeFinOps(urls=[f"https://blob.test/dmf/p.zip?sv=2020&sig={SIG}"])
    fake.md5 = md5_of(package_bytes(1234))  # the stored MD5 of another blob: every download mismatches
    with fake.client(clock) as client, pytest.raises(PackageDownloadError) as info:
        client.export_package(data_project="P", legal_entity="USMF", destination_dir=tmp_path)
    text = str(info.value)
    assert info.value.execution_id in text
    assert "MD5" in text
    assert "proxy" in text
    assert "run the export again" in text
    assert len(fake.blob_requests) == 4  # the retry policy's attempts
    assert not list(tmp_path.iterdir())  # neither <id>.zip nor <id>.zip.part
    for line in [text, *(r.getMessage() for r in caplog.records)]:
        assert SIG not in line


def test_a_resume_is_checked_against_the_whole_blob(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    fake.md5 = md5_of(fake.package)
    data, md5 = fake.package, base64.b64encode(fake.md5).decode()

    def drop_halfway(request: httpx.Request) -> httpx.Response:
        def body():
            yield data[:2000]
            raise httpx.ReadError("connection reset by peer")

        return httpx.Response(
            200, content=body(), headers={"Content-Length": str(len(data)), "Content-MD5": md5}
        )

    fake.blob_faults.append(drop_halfway)
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.resumes == 1
    assert result.path.read_bytes() == data


def test_a_blob_replaced_between_ranges_restarts(tmp_path: Path, clock: FakeClock) -> None:
    old = package_bytes(6000)
    fake = FakeFinOps()
    fake.md5 = md5_of(fake.package)

    def old_blob_dropping(request: httpx.Request) -> httpx.Response:
        def body():
            yield old[:2000]
            raise httpx.ReadError("connection reset by peer")

        headers = {"Content-Length": str(len(old)), "Content-MD5": base64.b64encode(md5_of(old)).decode()}
        return httpx.Response(200, content=body(), headers=headers)

    fake.blob_faults.append(old_blob_dropping)
    with fake.client(clock) as client:
        result = client.download_package(execution_id="X", destination=tmp_path / "p.zip")
    assert result.path.read_bytes() == fake.package
    ranges = [r.headers.get("Range") for r in fake.blob_requests]
    assert ranges == [None, "bytes=2000-", None]  # the resume saw another blob's MD5: from scratch


def test_an_unreadable_md5_header_leaves_the_size_check(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeFinOps()
    data = fake.package
    fake.blob_faults.append(
        lambda r: httpx.Response(200, content=data, headers={"Content-MD5": "not base64!"})
    )
    with fake.client(clock) as client:
        assert client.download_package(execution_id="X", destination=tmp_path / "p.zip").size_bytes == len(
            data
        )
