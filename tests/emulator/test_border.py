"""The emulator's border: it imports nothing of the product, and the rest of the repository uses only
its public API (``d365_assets.emulator``'s ``__all__``).

The emulator's own tests (this folder) may import its submodules to test its internals.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import d365_assets.emulator

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (
    "fo",
    "package",
    "warehouse",
    "catalog",
    "refresh",
    "defs",
    "settings",
    "spool",
    "errors",
    "schema",
)


def test_importing_the_emulator_imports_nothing_of_the_product() -> None:
    code = (
        "import json, sys; import d365_assets.emulator; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('d365_assets', 'dagster')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(result.stdout)
    assert "d365_assets.emulator.emulator" in loaded, "the emulator itself was imported"
    assert not [m for m in loaded if m.split(".")[0] == "dagster"], "the emulator does not need Dagster"
    product = [m for m in loaded if m.startswith("d365_assets.") and m.split(".")[1] in PRODUCT]
    assert product == [], "the emulator plays F&O: it must not import the product"
    assert {m for m in loaded if not m.startswith("d365_assets.emulator")} == {"d365_assets"}


def emulator_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every ``d365_assets.emulator`` import in a Python file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("d365_assets.emulator"):
            found.append((node.module or "", [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names if a.name.startswith("d365_assets.emulator"))
    return found


def test_tests_and_the_benchmark_use_only_the_public_api() -> None:
    own_tests = ROOT / "tests" / "emulator"
    users = [ROOT / "bench" / "ingest.py"] + [
        p for p in (ROOT / "tests").rglob("*.py") if not p.is_relative_to(own_tests)
    ]
    public = set(d365_assets.emulator.__all__)
    beyond = [
        f"{path.relative_to(ROOT)}: {module} {names}"
        for path in users
        for module, names in emulator_imports(path)
        if module != "d365_assets.emulator" or not set(names) <= public
    ]
    assert beyond == [], "export what a test needs from d365_assets/emulator/__init__.py"
    assert len(users) > 20


def test_the_public_api_is_what_the_package_exports() -> None:
    assert sorted(d365_assets.emulator.__all__) == [
        "DataProject",
        "Emulator",
        "EmulatorConfig",
        "Fault",
        "RecurringJob",
        "RequestRecord",
        "THROTTLE_MESSAGES",
        "TlsFiles",
        "ensure_tls",
    ]
    for name in d365_assets.emulator.__all__:
        assert getattr(d365_assets.emulator, name) is not None
