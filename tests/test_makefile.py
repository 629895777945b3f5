"""The Makefile on a newcomer's machine: it finds Python 3.11 or 3.12 itself, says so when there is none,
rebuilds .venv for another interpreter, and `make clean` keeps the data and run history.

Each test runs the real Makefile with GNU make in a copy of the files it reads, with a PATH of stand-ins:
a ``python3`` that answers 3.13 (a shell script) beside a real Python as ``python3.11``. ``make -n``
prints what make decided to run without installing anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


def repository_copy(tmp_path: Path) -> Path:
    """The files the install target reads, in a folder of their own."""
    folder = tmp_path / "repo"
    folder.mkdir()
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def stand_ins(tmp_path: Path, *, python311: bool) -> Path:
    """A PATH folder: ``python3`` answering 3.13, optionally a real Python as ``python3.11``, and cat."""
    folder = tmp_path / "bin"
    folder.mkdir()
    stub = folder / "python3"
    stub.write_text("#!/bin/sh\necho 3.13\n", encoding="utf-8")
    stub.chmod(0o755)
    if python311:
        (folder / "python3.11").symlink_to(Path(sys.executable).resolve())
    (folder / "cat").symlink_to(shutil.which("cat") or "/bin/cat")
    return folder


def make(repo: Path, path: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run make in ``repo`` with only ``path`` (a folder, or a PATH string) on PATH."""
    env = {"PATH": str(path), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C"}
    return subprocess.run(
        [str(MAKE), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_install_picks_python311_when_python3_is_313(tmp_path: Path) -> None:
    repo, path = repository_copy(tmp_path), stand_ins(tmp_path, python311=True)
    planned = make(repo, path, "-n", "install")
    assert planned.returncode == 0, planned.stderr
    assert "python3.11 -m venv --clear .venv" in planned.stdout
    assert "python3 -m venv" not in planned.stdout


def test_without_python_311_or_312_it_says_what_to_do(tmp_path: Path) -> None:
    repo, path = repository_copy(tmp_path), stand_ins(tmp_path, python311=False)
    found_none = make(repo, path, "demo")
    assert found_none.returncode != 0
    assert "needs Python 3.11 or 3.12" in found_none.stderr
    assert "None of python3.12, python3.11, python3 on PATH is one" in found_none.stderr
    assert "make demo PYTHON=/path/to/python3.12" in found_none.stderr
    named = make(repo, path, "install", "PYTHON=python3")
    assert named.returncode != 0
    assert "python3 is Python 3.13" in named.stderr
    assert not (repo / ".venv").exists(), "nothing was installed"


def test_a_venv_built_by_another_interpreter_is_rebuilt(tmp_path: Path) -> None:
    repo, path = repository_copy(tmp_path), stand_ins(tmp_path, python311=True)
    (repo / ".venv").mkdir()
    stamp = repo / ".venv" / ".installed"
    stamp.write_text("3.13.0 /usr/bin/python3\n", encoding="utf-8")  # newer than pyproject.toml
    rebuild = make(repo, path, "-n", "install")
    assert "python3.11 -m venv --clear .venv" in rebuild.stdout, rebuild.stdout + rebuild.stderr
    recorded = re.search(r"echo '(.+)' > \.venv/\.installed", rebuild.stdout)
    assert recorded is not None, rebuild.stdout
    assert recorded.group(1).startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")

    stamp.write_text(recorded.group(1) + "\n", encoding="utf-8")  # as a finished install leaves it
    up_to_date = make(repo, path, "-n", "install")
    assert "venv" not in up_to_date.stdout, up_to_date.stdout
    assert "Nothing to be done" in up_to_date.stdout + up_to_date.stderr


def test_clean_keeps_data_and_history_and_clean_data_removes_them(tmp_path: Path) -> None:
    repo = repository_copy(tmp_path)
    kept = ["data/warehouse.duckdb", "history/runs.db", "schedules/schedules.db", "storage/run/x", "logs/x"]
    cached = [".venv/bin/python", ".pytest_cache/v", ".ruff_cache/x", "tests/__pycache__/x.pyc"]
    for name in [*kept, *cached, ".nux/nux.yaml"]:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x", encoding="utf-8")
    system = os.pathsep.join(["/usr/bin", "/bin"])  # rm and find; the clean targets need no Python

    cleaned = make(repo, system, "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert [n for n in kept if not (repo / n).exists()] == []
    assert [n for n in cached if (repo / n).exists()] == []

    wiped = make(repo, system, "clean-data")
    assert wiped.returncode == 0, wiped.stderr
    assert [n.split("/")[0] for n in kept if (repo / n.split("/")[0]).exists()] == []
    assert not (repo / ".nux").exists()
    assert (repo / "Makefile").exists()
    assert (repo / "pyproject.toml").exists()
