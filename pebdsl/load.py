"""Design files in, designs out: reading, variants, and the reference variant of a run.

Input: the path of a `.peb` file (or its text: `loads`; `-` in `check` is standard input), a
variant name or a collection of them, `--set` texts, whether `csv()` may read outside the
design's folder, and in-memory series for `data("name")` (`data=`: name -> pandas Series or
DataFrame, checked by `resolve/frames.py`). Output: validated `design.Design`s (via
`pebdsl.resolve`), each carrying its `SourceFile` (the design hash, `Design.digest()`), the
sha256 of the data files it read (`Design.data_digest`) and the seconds spent parsing and
resolving (`Design.timings`); `check(path)`, the cases of `pebdsl check` and their warnings;
each variant's `compare` flag read without resolving; the
reference variant with the `--set` edits it can take.

Errors: E901 a design file that cannot be read; every error of the parser and of
`pebdsl.resolve` (raised together as one `PebdslError`).

`pebdsl/__init__.py` imports `load` and `load_all` from here when `pebdsl` is imported, so the
name `pebdsl.load` stays the function (importing a submodule binds its name on the package only
the first time): this module therefore imports the parser and the resolver inside the functions,
and `import pebdsl` stays light (`pebdsl fmt` needs neither numpy nor the resolver).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error
from pebdsl.source import NO_SPAN, SourceFile

if TYPE_CHECKING:
    from pebdsl import design as D
    from pebdsl.diagnostics import Diagnostic
    from pebdsl.front import syntax as S

__all__ = ["load", "load_all", "loads", "read", "reference", "variant_compare_flags"]

DataArg = Mapping[str, Any] | None  # name -> pandas Series or DataFrame, for `data("name")`


def read(path: str) -> tuple[S.File, SourceFile, float]:
    """The syntax tree of the file at `path`, its source and the seconds spent reading and
    parsing (E901 when the file cannot be read)."""
    t0 = time.perf_counter()
    try:
        source = SourceFile.read(path)
    except OSError as e:
        raise PebdslError(error("E901", f"cannot read {path}: {e.strerror or e}")) from None
    tree, src = _parse(source)
    return tree, src, time.perf_counter() - t0


def _parse(source: SourceFile) -> tuple[S.File, SourceFile]:
    from pebdsl.front.parser import parse

    tree = parse(source.text, source.path)
    return tree, tree.span.source if tree.span is not NO_SPAN else source


def load(
    path: str,
    variant: str | None = None,
    sets: list[str] | None = None,
    *,
    allow_outside: bool = False,
    data: DataArg = None,
) -> D.Design:
    """Read, check and resolve a design file (one variant, or the base design).

    `allow_outside`: `csv()` may read files outside the design file's folder (else E411).
    `data`: the in-memory series `data("name")` reads (name -> pandas Series or DataFrame)."""
    tree, source, parse_s = read(path)
    return _resolve(tree, source, parse_s, variant, sets, allow_outside, data, None)


def loads(
    text: str,
    *,
    base_dir: str | Path | None = None,
    name: str = "<string>",
    variant: str | None = None,
    sets: list[str] | None = None,
    allow_outside: bool = False,
    data: DataArg = None,
) -> D.Design:
    """Check and resolve design text: the same `Design` as `load` of a file holding `text`.

    Diagnostics point at `name` (`<string>:3:5`); relative `csv()`/`parquet()` paths start
    at `base_dir` (default: the current directory), which is also the folder they must lie
    in without `allow_outside`."""
    t0 = time.perf_counter()
    tree, source = _parse(SourceFile(name, text))
    folder = Path(base_dir) if base_dir is not None else Path(".")
    parse_s = time.perf_counter() - t0
    return _resolve(tree, source, parse_s, variant, sets, allow_outside, data, folder)


def _resolve(
    tree: S.File,
    source: SourceFile,
    parse_s: float,
    variant: str | None,
    sets: list[str] | None,
    allow_outside: bool,
    data: DataArg,
    base_dir: Path | None,
) -> D.Design:
    from pebdsl.resolve import resolve

    t0 = time.perf_counter()
    design = resolve(
        tree,
        source,
        variant=variant,
        sets=sets,
        allow_outside=allow_outside,
        base_dir=base_dir,
        data=data,
    )
    design.timings.update(parse=parse_s, resolve=time.perf_counter() - t0)
    return design


def load_all(
    path: str,
    variants: Collection[str] | None = None,
    *,
    for_compare: bool = False,
    allow_outside: bool = False,
    data: DataArg = None,
    base_dir: Path | None = None,
) -> dict[str | None, D.Design]:
    """The base design and every variant, in declaration order (key None = the base).

    `variants`: only the variants of these names (names not declared are skipped; the base's
    `Design.variants` lists those that are). `for_compare`: also skip the variants written
    with `compare = false` (unless named in `variants`), without resolving them. `path` "-"
    reads the design from standard input (named `<stdin>`, paths relative to `base_dir` or
    the current directory)."""
    from pebdsl.resolve import resolve_all

    if path == "-":
        t0 = time.perf_counter()
        tree, source = _parse(SourceFile("<stdin>", sys.stdin.read()))
        parse_s = time.perf_counter() - t0
        base_dir = base_dir or Path(".")
    else:
        tree, source, parse_s = read(path)
    t0 = time.perf_counter()
    designs = resolve_all(
        tree,
        source,
        variants,
        for_compare=for_compare,
        allow_outside=allow_outside,
        base_dir=base_dir,
        data=data,
    )
    # One parse serves every variant; resolving is shared out evenly among them.
    resolve_s = (time.perf_counter() - t0) / len(designs)
    for design in designs.values():
        design.timings.update(parse=parse_s, resolve=resolve_s)
    return designs


def check(
    path: str, variant: str | None = None, *, allow_outside: bool = False
) -> tuple[list[str], list[Diagnostic]]:
    """What `pebdsl check` does for one file (`-`: standard input): the cases checked (`base`
    and the variants; only `variant` when given) and their check-time warnings
    (`resolve.lint.merge`, by position). Raises the `PebdslError` of the first case that
    fails."""
    from pebdsl.resolve.lint import merge

    designs: dict[str | None, D.Design]
    if variant and path == "-":
        designs = {
            variant: loads(
                sys.stdin.read(), name="<stdin>", variant=variant, allow_outside=allow_outside
            )
        }
    elif variant:
        designs = {variant: load(path, variant=variant, allow_outside=allow_outside)}
    else:
        designs = load_all(path, allow_outside=allow_outside)
    return ["base" if k is None else k for k in designs], merge(designs)


def variant_compare_flags(file: S.File | str) -> dict[str, bool]:
    """Each variant's `compare` attribute, read from the syntax tree (or the file at this path)
    without resolving anything: False only where it is written `compare = false`
    (`pebdsl.resolve.variant_compare_flags`)."""
    from pebdsl.resolve import variant_compare_flags as flags_of

    if isinstance(file, str):
        file = read(file)[0]
    return flags_of(file)


def reference(
    path: str, name: str, sets: list[str], allow_outside: bool = False
) -> tuple[D.Design, list[str]]:
    """The reference variant `name` with the `--set` edits it can take, and the edits it
    cannot.

    A reference usually removes things (`without market m`), so an edit of `m` has nothing to
    change there (E101): such edits are left out. Any other error is the user's to see.
    """
    try:
        return load(path, variant=name, sets=sets, allow_outside=allow_outside), []
    except PebdslError as e:
        if not sets or set(e.codes) != {"E101"}:
            raise
    kept: list[str] = []
    skipped: list[str] = []
    ref = None  # the reference with every edit kept so far
    for edit in sets:
        try:
            ref = load(path, variant=name, sets=[*kept, edit], allow_outside=allow_outside)
        except PebdslError as e:
            if set(e.codes) != {"E101"}:
                raise
            skipped.append(edit)
        else:
            kept.append(edit)
    if ref is None:
        ref = load(path, variant=name, allow_outside=allow_outside)
    return ref, skipped
