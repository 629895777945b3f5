"""Benchmark part (issue 14): the package into a Delta table, in a local folder and on Azurite."""

from __future__ import annotations

import os
import time
from pathlib import Path


def measure_lake(package: str, uri: str, azurite_url: str = "", mode: str = "full") -> dict:
    """``ours`` into a Delta table at ``uri`` (a folder, or ``az://`` on Azurite at ``azurite_url``)."""
    from ingest import _peak_mib, load_gl_package

    from d365_assets.lake import DeltaLake, LakeConfig
    from tests.support.azurite import ACCOUNT, ACCOUNT_KEY

    azure = {"account_name": ACCOUNT, "account_key": ACCOUNT_KEY, "azurite_url": azurite_url}
    lake = DeltaLake(LakeConfig(uri, **(azure if azurite_url else {})))
    started = time.perf_counter()
    result = load_gl_package(lake, package, mode)
    return {"seconds": time.perf_counter() - started, "rows": result.rows_read, "peak_mib": _peak_mib()}


def lake_rows(table, child, package: Path, work: Path, ours: dict) -> dict:
    """The CSV package into a Delta table in a folder and on Azurite (HTTPS), each against ``ours``;
    returns the folder's figures (its table, ``work / "lake"``, takes the delta later)."""
    local = child("lake", str(package), str(work / "lake"))
    table.measured("CSV -> Delta, local folder (vs ours)", ours["rows"], local, ours)
    from tests.support.azurite import azurite_missing, running_azurite, trust_bundle

    if azurite_missing():
        print(f"  (no Azurite row: {azurite_missing()})", flush=True)
        return local
    with running_azurite(work / "azurite") as azurite:
        os.environ["SSL_CERT_FILE"] = str(trust_bundle(azurite.ca, work / "azurite"))
        container = azurite.new_container()
        figures = child("lake", str(package), f"az://{container}/d365", azurite.url)
        table.measured("CSV -> Delta, Azurite https (vs ours)", ours["rows"], figures, ours)
    return local
