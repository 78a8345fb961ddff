"""Every direct dependency of a plain `pip install pebdsl` is used by pebdsl/ (issue 14).

The requirement tree comes from the installed metadata (importlib.metadata, no network): the
direct requirements of the `pebdsl` distribution without extras, and what they pull in. Each
direct one must be imported somewhere in pebdsl/ (at a module's top or inside a function), or
be named in USED_WITHOUT_IMPORT with the place that uses it. Run as a script, it prints the
distributions of a plain install, each with who requires it and the pebdsl modules that import
it: `python tests/test_dependencies.py`.
"""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pebdsl"

# Used by pebdsl without an import statement of its own: (dependency, file, text there).
# (pyarrow was one, as pandas' Parquet engine; present/output.py and resolve/frames.py now
# import it for Parquet field metadata.)
USED_WITHOUT_IMPORT: dict[str, tuple[str, str]] = {}
# A distribution's import name where it differs from its (normalised) distribution name.
IMPORT_NAMES = {"pyyaml": "yaml", "python-dateutil": "dateutil"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(text: str) -> tuple[str, str]:
    """(normalised name, marker text) of one `Requires-Dist` line."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    assert name, text
    marker = text.split(";", 1)[1] if ";" in text else ""
    return _norm(name.group(1)), marker


def direct_dependencies() -> list[str]:
    """The requirements of a plain `pip install pebdsl` (no extra)."""
    reqs = metadata.requires("pebdsl") or []
    return sorted({n for n, marker in map(_requirement, reqs) if "extra ==" not in marker})


def install_tree() -> dict[str, set[str]]:
    """{distribution: who requires it} for a plain install, from the installed metadata;
    only unconditional requirements (no extra, no environment marker) are followed."""
    tree: dict[str, set[str]] = {}
    todo = [(d, "pebdsl") for d in direct_dependencies()]
    while todo:
        name, parent = todo.pop()
        if name in tree:
            tree[name].add(parent)
            continue
        tree[name] = {parent}
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [(n, name) for n, marker in map(_requirement, reqs) if not marker.strip()]
    return tree


def importers() -> dict[str, set[str]]:
    """{top-level module: the pebdsl modules importing it}, lazy imports inside functions too."""
    out: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                out.setdefault(n.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return out


def _top_level(dist: str) -> set[str]:
    """The import names a distribution provides (top_level.txt or its files)."""
    names = {IMPORT_NAMES.get(dist, dist.replace("-", "_"))}
    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return names
    top = d.read_text("top_level.txt")
    if top:
        names |= {line.strip() for line in top.splitlines() if line.strip()}
    for f in d.files or []:
        parts = f.parts
        if len(parts) > 1 and parts[0].isidentifier() and not parts[0].endswith("-info"):
            names.add(parts[0])
    return names


def test_pebdsl_is_installed_with_metadata() -> None:
    deps = direct_dependencies()
    assert "pandas" in deps and "lark" in deps  # the tree below is read from real metadata


@pytest.mark.parametrize("dist", direct_dependencies())
def test_each_direct_dependency_is_used(dist: str) -> None:
    if dist in USED_WITHOUT_IMPORT:
        file, text = USED_WITHOUT_IMPORT[dist]
        assert text in (PACKAGE / file).read_text(encoding="utf-8"), (dist, file)
        return
    used = importers()
    assert _top_level(dist) & set(used), f"nothing in pebdsl/ imports {dist}"


def test_optional_engines_are_extras_not_core() -> None:
    """Dask is the `cluster` extra (and in `test`, which runs a local cluster); matplotlib,
    which nothing imports, is gone."""
    reqs = [_requirement(r) for r in metadata.requires("pebdsl") or []]
    core = {n for n, marker in reqs if "extra ==" not in marker}
    assert not core & {"dask", "distributed", "matplotlib"}
    by_extra: dict[str, set[str]] = {}
    for n, marker in reqs:
        m = re.search(r"extra == ['\"]([\w-]+)['\"]", marker)
        if m:
            by_extra.setdefault(m.group(1), set()).add(n)
    assert "dask" in by_extra.get("cluster", set())
    assert "dask" in by_extra.get("test", set())


def main() -> None:
    tree = install_tree()
    used = importers()
    print(f"{len(tree)} distributions in a plain `pip install pebdsl`:")
    for dist in sorted(tree):
        who = ", ".join(sorted(tree[dist]))
        mods = sorted({m for name in _top_level(dist) for m in used.get(name, ())})
        more = ", …" if len(mods) > 3 else ""
        where = (
            f"imported by {len(mods)} modules ({', '.join(mods[:3])}{more})"
            if mods
            else ("used as " + USED_WITHOUT_IMPORT[dist][1] if dist in USED_WITHOUT_IMPORT else "")
        )
        print(f"  {dist:24} required by {who}{'; ' + where if where else ''}")


if __name__ == "__main__":
    main()
