"""Benchmark part: the client's download rate against a plain httpx stream of the same package."""

from __future__ import annotations

import time
from pathlib import Path

GL = "GeneralJournalAccountEntries"
GL_LABEL = "General journal account entry"
FORMATS = {"CSV": "BENCH-GL-CSV", "CSV-Unicode": "BENCH-GL-Unicode"}


def _emulator(state: Path, rows: int, **config: object):
    from d365_assets.emulator import DataProject, Emulator, EmulatorConfig

    projects = {
        name: DataProject(name=name, entity=GL_LABEL, source_format=fmt, refresh="full", locale="ISO")
        for fmt, name in FORMATS.items()
    }
    lifecycle = {k: 0.0 for k in ("not_visible_seconds", "not_run_seconds", "executing_seconds")}
    return Emulator(
        state_dir=state,
        config=EmulatorConfig(
            rows={GL: rows},
            companies=("USMF",),
            extra_projects=projects,
            package_url_delay_seconds=0.0,
            **lifecycle,
            **config,
        ),
    ).start()


def _client(emulator):
    """The product's client of the emulator addressed as a real environment (tests.support.environment)."""
    from d365_assets.fo import RetryPolicy
    from tests.support.environment import client_for

    # Millions of rows take minutes to export and to package: wait and retry as against a real F&O.
    return client_for(
        emulator, poll_timeout=3600.0, not_found_grace=600.0, url_timeout=600.0, retry=RetryPolicy()
    )


def _export(client, project: str, folder: Path) -> tuple[Path, float]:
    package = client.export_package(data_project=project, legal_entity="USMF", destination_dir=folder)
    return package.path, package.size_bytes / 1e6 / max(package.download_seconds, 1e-9)


def _plain_download_rate(client, emulator, project: str, folder: Path) -> float:
    import httpx

    execution = client.export_to_package(data_project=project, legal_entity="USMF")
    client.wait_for_execution(execution)
    url = client.wait_for_package_url(execution)
    target = folder / "plain.zip"
    started = time.perf_counter()
    size = 0
    with (
        httpx.Client(verify=str(emulator.ca_bundle), trust_env=False) as plain,
        plain.stream("GET", url) as response,
    ):
        response.raise_for_status()
        with target.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
                size += len(chunk)
    return size / 1e6 / (time.perf_counter() - started)


def download_row(size: int, work: Path) -> list[str]:
    """The client's download rate against a plain httpx stream of the same package."""
    with _emulator(work / "emulator-download", size) as emulator, _client(emulator) as client:
        print("download rate ...", flush=True)
        package, ours_rate = _export(client, FORMATS["CSV"], work / "packages")
        plain_rate = _plain_download_rate(client, emulator, FORMATS["CSV"], work / "packages")
        return [
            "download (client vs plain httpx, MB/s)",
            f"{package.stat().st_size / 1e6:,.0f} MB",
            f"{ours_rate:,.0f} vs {plain_rate:,.0f}",
            "",
            "",
            f"{ours_rate / plain_rate:.2f}x",
        ]
