"""The house rules, read from the source: layers depend one way, and rooms stay small.

docs/architecture.md draws the layers; this test reads every module's imports and fails on an
import that points up or sideways, on Dagster below the wiring, and on a module or function that
grew past what a newcomer can hold in their head.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "d365_assets"

LAYERS: dict[str, int] = {
    "errors": 0,
    "schema": 0,
    "guids": 0,
    "loading": 1,
    "fo": 2,
    "package": 2,
    "warehouse": 2,
    "lake": 2,
    "catalog": 2,
    "process_owner": 2,
    "spool": 3,
    "settings": 3,
    "refresh": 4,
    "defs": 5,
    "definitions": 6,
    "cli": 7,
}
"""Each component's layer: it may import its own modules and those of lower layers only."""
DAGSTER_FROM = 5
"""Layers from which on Dagster may be imported (the wiring and what runs it)."""
EMULATOR_USERS = {"d365_assets.defs.backend"}
"""The only product module that imports the emulator (to pick the default backend)."""
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
EXEMPT_FROM_SIZE = {"d365_assets.emulator.datagen"}
"""The emulator's data tables: long on purpose, no logic to hold in one's head."""


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module, e.g. ``d365_assets.fo.client``."""
    target: str
    """What it imports, absolute, e.g. ``d365_assets.package.reader`` or ``dagster``."""
    line: int


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports_of(module: str, path: Path) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
            yield from (Import(module, name if _is_module(name) else base, node.lineno) for name in names)


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").exists() or (PACKAGE.parent / relative).is_dir()


def component(dotted: str) -> str | None:
    """``fo`` for ``d365_assets.fo.client``; None outside d365_assets."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "d365_assets" else None


def all_imports() -> list[Import]:
    return [found for module, path in modules() for found in imports_of(module, path)]


def test_every_product_module_has_a_layer() -> None:
    unplaced = {component(m) for m, _ in modules()} - set(LAYERS) - {"emulator", None}
    assert not unplaced, f"add these to LAYERS here and to docs/architecture.md: {sorted(unplaced)}"


def test_layers_depend_one_way() -> None:
    wrong = []
    for found in all_imports():
        source, target = component(found.module), component(found.target)
        if source in (None, "emulator") or target in (None, "emulator") or source == target:
            continue
        if LAYERS[target] >= LAYERS[source]:
            wrong.append(f"{found.module}:{found.line} imports {found.target} (layer {LAYERS[target]} >= "
                         f"{LAYERS[source]})")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_dagster_stays_in_the_wiring() -> None:
    wrong = [
        f"{found.module}:{found.line} imports {found.target}"
        for found in all_imports()
        if found.target.split(".")[0] == "dagster"
        and component(found.module) not in (None, "emulator")
        and LAYERS[component(found.module)] < DAGSTER_FROM
    ]
    assert not wrong, "\n".join(wrong)


def test_the_emulator_plays_f_and_o_on_its_own() -> None:
    wrong = []
    for found in all_imports():
        source, target = component(found.module), component(found.target)
        if source == "emulator" and target not in (None, "emulator"):
            wrong.append(f"{found.module}:{found.line} imports the product's {found.target}")
        if target == "emulator" and source not in (None, "emulator") and found.module not in EMULATOR_USERS:
            wrong.append(f"{found.module}:{found.line} imports the emulator")
        if found.target.split(".")[0] == "dagster" and source == "emulator":
            wrong.append(f"{found.module}:{found.line} imports dagster")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("module", "path"), list(modules()), ids=lambda value: str(value))
def test_rooms_stay_small(module: str, path: Path) -> None:
    if module in EXEMPT_FROM_SIZE:
        pytest.skip("the emulator's data tables")
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{module} has {source.count(chr(10))} lines: split it"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
