"""The package's shape, checked: layers, no import cycles, module and function sizes.

The pipeline's rooms (docs/dev/architecture.md) are layered, lowest first:

    base      source, diagnostics, safetext, fsutil, units      (used by every room)
    front     text -> syntax tree, syntax errors, formatter, lexer
    resolve   syntax -> validated Design (passes, series, checks, lint), load.py, generators
    lower     Design -> model IR and its inverse map
    backends  IR -> Solution (HiGHS, Pyomo)
    invert    Solution -> dispatch, trades, flexibility baseline, diagnosis
    settle    bills, KPIs, notes
    results   the Results record and solve.py, the one composer; aggregate.py (typical days)
    study     many solves: runner, compare, sweep
    present   results.json/CSV/Parquet, explain, LP files, HTML pages
    cli       the command line (cli, cliargs, console), the public API, the language server

A module may import its own layer or a lower one, never a later one; every import counts, also
one inside a function or under `TYPE_CHECKING` (a lazy import is still a dependency). The
import graph between modules has no cycle (a package's `__init__` and its own submodules
included). No module is over 600 lines and no function over 80: the test lists the offenders.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "pebdsl"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("source", "diagnostics", "safetext", "fsutil", "units", "logs")),
    ("front", ("front",)),
    ("resolve", ("resolve", "design", "timegrid", "generators", "load", "bridges")),
    ("lower", ("ir", "lower")),
    ("backends", ("backends",)),
    ("invert", ("invert",)),
    ("settle", ("settle", "kpis", "notes")),
    ("results", ("results", "exchange", "solve", "stochastic", "aggregate")),
    ("study", ("study",)),
    ("present", ("present",)),
    (
        "cli",
        (
            "",
            "cli",
            "cliargs",
            "clicheck",
            "cliexport",
            "clilog",
            "clisolve",
            "console",
            "entry",
            "__main__",
            "lsp",
        ),
    ),
)
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = p.relative_to(PKG).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _layer(module: str) -> int:
    head = module.split(".")[0]
    for k, (_, members) in enumerate(LAYERS):
        if head in members:
            return k
    raise AssertionError(f"pebdsl.{module} belongs to no layer: add it to LAYERS and the docs")


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported pebdsl module, line) for every import in `path`, resolved to a module."""
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".") if pkg else []
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module == "pebdsl" or node.module.startswith("pebdsl.")):
                mod = node.module.removeprefix("pebdsl").lstrip(".")
            else:
                continue
            for alias in node.names:
                full = f"{mod}.{alias.name}".lstrip(".")
                targets.append(full if full in modules else mod)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pebdsl" or alias.name.startswith("pebdsl."):
                    targets.append(alias.name.removeprefix("pebdsl").lstrip("."))
        for t in targets:
            if t != module:
                yield t, node.lineno


def _graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    return {m: dict(_imports(m, p, modules)) for m, p in modules.items()}


def test_every_module_has_a_layer() -> None:
    for m in _modules():
        _layer(m)


def test_no_module_imports_a_later_layer() -> None:
    bad = []
    for m, deps in _graph().items():
        for dep, line in deps.items():
            if _layer(dep) > _layer(m):
                bad.append(
                    f"pebdsl/{_modules()[m].relative_to(PKG)}:{line}: {m or 'pebdsl'} "
                    f"({LAYERS[_layer(m)][0]}) imports {dep} ({LAYERS[_layer(dep)][0]})"
                )
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    graph = {m: set(d) for m, d in _graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def _sizes() -> tuple[list[str], list[str]]:
    long_modules, long_functions = [], []
    for p in sorted(PKG.rglob("*.py")):
        src = p.read_text()
        rel = p.relative_to(PKG.parent)
        lines = src.count("\n")
        if lines > MAX_MODULE_LINES:
            long_modules.append(f"{rel}: {lines} lines")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{rel}:{node.lineno}: {node.name} is {n} lines")
    return long_modules, long_functions


@pytest.mark.parametrize("kind", ["modules", "functions"])
def test_sizes(kind: str) -> None:
    long_modules, long_functions = _sizes()
    offenders = long_modules if kind == "modules" else long_functions
    limit = MAX_MODULE_LINES if kind == "modules" else MAX_FUNCTION_LINES
    assert not offenders, f"{kind} over {limit} lines:\n" + "\n".join(offenders)
