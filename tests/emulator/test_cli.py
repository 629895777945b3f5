"""``python -m d365_assets.emulator`` as a separate process, driven with plain httpx.

A recurring job's queue is read with the product's client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from d365_assets.fo import ClientSecretCredential, D365Client

from .helpers import FoClient, read_package

REPO = Path(__file__).resolve().parents[2]
KEYS = (
    "D365_ENVIRONMENT_URL",
    "D365_AUTHORITY_HOST",
    "D365_BLOB_HOST",
    "D365_TENANT_ID",
    "D365_CLIENT_ID",
    "D365_CLIENT_SECRET",
    "D365_CA_BUNDLE",
)


def _read_settings(process: subprocess.Popen[str], timeout: float = 30) -> dict[str, str]:
    settings: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while len(settings) < len(KEYS):
        assert time.monotonic() < deadline, "the emulator did not print its settings"
        line = process.stdout.readline()
        assert line, f"emulator exited early with {process.poll()}"
        key, _, value = line.strip().partition("=")
        settings[key] = value
    return settings


def test_standalone_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "d365_assets.emulator", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        s = _read_settings(process)
        assert set(s) == set(KEYS)
        assert s["D365_ENVIRONMENT_URL"].startswith("https://127.0.0.1:")
        fo = FoClient(
            environment_url=s["D365_ENVIRONMENT_URL"],
            authority_host=s["D365_AUTHORITY_HOST"],
            tenant_id=s["D365_TENANT_ID"],
            client_id=s["D365_CLIENT_ID"],
            client_secret=s["D365_CLIENT_SECRET"],
            ca_bundle=s["D365_CA_BUNDLE"],
        )
        with fo:
            execution_id = fo.export("D365A-MainAccounts", "USMF")
            assert fo.wait_status(execution_id) == "Succeeded"
            url = fo.wait_url(execution_id)
            assert url.startswith(f"{s['D365_BLOB_HOST']}/dmf/")
            _, files = read_package(fo.download(url))
            assert "Main account.csv" in files
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0


def test_standalone_command_runs_a_recurring_job(tmp_path: Path) -> None:
    activity = "6D31E09F-1A2B-4C3D-8E9F-0123456789AB"
    arguments = ["--state-dir", str(tmp_path / "state"), "--http-download-locations"]
    arguments += ["--recurring-job", f"{{{activity}}}:D365A-MainAccounts::60", "--visibility-timeout", "5"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "d365_assets.emulator", *arguments],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        s = _read_settings(process)
        credential = ClientSecretCredential(
            s["D365_TENANT_ID"],
            s["D365_CLIENT_ID"],
            s["D365_CLIENT_SECRET"],
            authority_host=s["D365_AUTHORITY_HOST"],
        )
        with D365Client(
            environment_url=s["D365_ENVIRONMENT_URL"], credential=credential, ca_bundle=s["D365_CA_BUNDLE"]
        ) as client:
            message = client.recurring.dequeue(activity)  # its first export is due at once
            assert message is not None
            assert message.download_location.startswith("http://")
            downloaded = client.recurring.download(message, tmp_path / "message.zip")
            assert "Main account.csv" in read_package(downloaded.path.read_bytes())[1]
            client.recurring.ack(message)
            assert client.recurring.dequeue(activity) is None  # the next export is due in a minute
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0
