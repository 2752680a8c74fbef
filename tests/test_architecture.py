"""The import graph of hanforge: no cycle, and no import from a lower layer into a higher one.

The graph is read with ``ast`` from the source (every ``import``/``from ... import`` anywhere in
a module, function-level ones included), so it needs no import of hanforge itself. The layer
order is the one documented in docs/architecture.md; a new top-level module or package must be
placed in :data:`LAYERS` (and in that page) before the test passes.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lowest layer first. A module may import modules of its own unit and of units in lower layers;
#: units of one layer (corpus and train, say) may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("hanforge", "hanforge.errors"),  # the package docstring/version, the error hierarchy
    (
        "hanforge.atomic",
        "hanforge.config",
        "hanforge.console",
        "hanforge.extras",
    ),  # files; config; display; optional deps
    ("hanforge.fingerprint", "hanforge.output"),  # content fingerprints and manifests; output folders
    ("hanforge.shards",),  # text and token shard formats, their readers and writers
    ("hanforge.tokenizer",),  # tokenizer training/loading/encoding and the tokenize job
    (
        "hanforge.corpus",
        "hanforge.train",
        "hanforge.export",
        "hanforge.report",
    ),  # corpus engine; training; export; HTML report
    ("hanforge.eval", "hanforge.plan", "hanforge.serve"),  # built on the layer below
    ("hanforge.cli",),  # the command line: one module per verb
    ("hanforge.__main__",),  # `python -m hanforge`
)


@functools.cache
def parse(path: Path) -> ast.Module:
    """The syntax tree of one file (parsed once for all the checks)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_names(package: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` of every module below ``package``."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def import_graph(package: Path) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports}``, function-level imports included."""
    modules = module_names(package)
    top = package.name
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                # `from pkg import mod` imports the submodule; `from mod import name` the module
                targets.update(f"{origin}.{a.name}" if f"{origin}.{a.name}" in modules else origin for a in node.names)
        graph[name] = {t for t in targets if t in modules and t != name and t.split(".")[0] == top}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def unit_of(module: str, layers=LAYERS) -> tuple[str, int] | None:
    """The layer unit holding ``module`` (longest matching prefix) and its layer number."""
    best = None
    for level, units in enumerate(layers):
        for unit in units:
            if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best[0])):
                best = (unit, level)
    return best


def layer_violations(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """``a -> b`` lines for every import that is not downward (or within one unit); unplaced modules."""
    problems = []
    for module in sorted(graph):
        source = unit_of(module, layers)
        if source is None:
            problems.append(f"{module}: not in any layer (add it to LAYERS and docs/architecture.md)")
            continue
        for target in sorted(graph[module]):
            dest = unit_of(target, layers)
            if dest is None:
                continue  # reported as unplaced on its own line
            if dest[0] != source[0] and dest[1] >= source[1]:
                problems.append(f"{module} -> {target} ({source[0]} may not import {dest[0]})")
    return problems


@functools.cache
def hanforge_graph() -> dict[str, set[str]]:
    return import_graph(ROOT / "hanforge")


def test_hanforge_has_no_import_cycle():
    assert find_cycles(hanforge_graph()) == []


def test_hanforge_imports_only_downward():
    assert layer_violations(hanforge_graph()) == []


def test_every_layer_unit_is_documented():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [unit for units in LAYERS for unit in units if f"`{unit}`" not in page]
    assert missing == []


@pytest.fixture
def toy_package(tmp_path: Path) -> Path:
    """A package with a cycle (a <-> b) and an upward import (low -> high)."""
    pkg = tmp_path / "hanforge"
    (pkg / "low").mkdir(parents=True)
    (pkg / "high").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("from hanforge.low import b\n")
    (pkg / "low" / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "high" / "__init__.py").write_text("")
    (pkg / "high" / "c.py").write_text("from hanforge.low.a import x\n")
    (pkg / "low" / "d.py").write_text("import hanforge.high.c\n")
    return pkg


def test_checks_find_a_cycle_and_an_upward_import(toy_package: Path):
    graph = import_graph(toy_package)
    assert graph["hanforge.low.b"] == {"hanforge.low.a"}  # function-level, relative import
    assert find_cycles(graph) == [["hanforge.low.a", "hanforge.low.b"]]
    layers = (("hanforge",), ("hanforge.low",), ("hanforge.high",))
    assert layer_violations(graph, layers) == [
        "hanforge.low.d -> hanforge.high.c (hanforge.low may not import hanforge.high)"
    ]


#: The longest function body (lines from its first statement after the docstring to its end) a
#: module outside ``hanforge/train/`` may hold. Issue 19 asks for drivers under ~60 lines; the
#: limit leaves 20 lines of slack so that a small fix to a 60-line function does not fail CI,
#: while a new 100-line driver (the old tokenize job held 131) does. ``hanforge/train/`` is
#: exempt until the TRL layer replaces its loop (then drop the exemption).
MAX_FUNCTION_LINES = 80
LONG_FUNCTION_EXEMPT = ("train",)


def long_functions(package: Path, *, limit: int = MAX_FUNCTION_LINES, exempt=LONG_FUNCTION_EXEMPT) -> list[str]:
    """``path:line name (N lines)`` of every function whose body is longer than ``limit`` lines."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if parts[0] in exempt or parts[0] == "sample":
            continue
        for node in ast.walk(parse(path)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring does not count
            size = node.end_lineno - body[0].lineno + 1
            if size > limit:
                found.append(f"{path.relative_to(package.parent)}:{node.lineno} {node.name} ({size} lines)")
    return found


def test_no_long_function_outside_train():
    assert long_functions(ROOT / "hanforge") == []


def test_long_function_check_finds_one(tmp_path: Path):
    pkg = tmp_path / "hanforge"
    (pkg / "train").mkdir(parents=True)

    def function(name: str, num_lines: int, indent: str = "") -> str:
        lines = [f"def {name}():", '    """A docstring', '    of two lines."""'] + [
            f"    x = {i}" for i in range(num_lines)
        ]
        return "".join(f"{indent}{line}\n" for line in lines)

    (pkg / "short.py").write_text(function("f", 5))
    (pkg / "train" / "loop.py").write_text(function("g", 6))  # exempt
    (pkg / "long.py").write_text("class C:\n" + function("h", 6, indent="    "))
    assert long_functions(pkg, limit=5) == ["hanforge/long.py:2 h (6 lines)"]
