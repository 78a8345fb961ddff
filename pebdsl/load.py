"""Design files in, designs out: reading, variants, and the reference variant of a run.

Input: the path of a `.peb` file, a variant name or a collection of them, `--set` texts, and
whether `csv()` may read outside the design's folder. Output: validated `design.Design`s (via
`pebdsl.resolve`), each carrying its `SourceFile` (the design hash, `Design.digest()`), the
sha256 of the data files it read (`Design.data_digest`) and the seconds spent parsing and
resolving (`Design.timings`); each variant's `compare` flag read without resolving; the
reference variant with the `--set` edits it can take.

Errors: E901 a design file that cannot be read; every error of the parser and of
`pebdsl.resolve` (raised together as one `PebdslError`).

`pebdsl/__init__.py` imports `load` and `load_all` from here when `pebdsl` is imported, so the
name `pebdsl.load` stays the function (importing a submodule binds its name on the package only
the first time): this module therefore imports the parser and the resolver inside the functions,
and `import pebdsl` stays light (`pebdsl fmt` needs neither numpy nor the resolver).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from pebdsl.diagnostics import PebdslError, error
from pebdsl.source import NO_SPAN, SourceFile

if TYPE_CHECKING:
    from pebdsl import design as D
    from pebdsl.front import syntax as S

__all__ = ["load", "load_all", "read", "reference", "variant_compare_flags"]


def read(path: str) -> tuple[S.File, SourceFile, float]:
    """The syntax tree of the file at `path`, its source and the seconds spent reading and
    parsing (E901 when the file cannot be read)."""
    from pebdsl.front.parser import parse

    t0 = time.perf_counter()
    try:
        source = SourceFile.read(path)
    except OSError as e:
        raise PebdslError(error("E901", f"cannot read {path}: {e.strerror or e}")) from None
    tree = parse(source.text, source.path)
    src = tree.span.source if tree.span is not NO_SPAN else source
    return tree, src, time.perf_counter() - t0


def load(
    path: str,
    variant: str | None = None,
    sets: list[str] | None = None,
    *,
    allow_outside: bool = False,
) -> D.Design:
    """Read, check and resolve a design file (one variant, or the base design).

    `allow_outside`: `csv()` may read files outside the design file's folder (else E411)."""
    from pebdsl.resolve import resolve

    tree, source, parse_s = read(path)
    t0 = time.perf_counter()
    design = resolve(tree, source, variant=variant, sets=sets, allow_outside=allow_outside)
    design.timings.update(parse=parse_s, resolve=time.perf_counter() - t0)
    return design


def load_all(
    path: str,
    variants: Collection[str] | None = None,
    *,
    for_compare: bool = False,
    allow_outside: bool = False,
) -> dict[str | None, D.Design]:
    """The base design and every variant, in declaration order (key None = the base).

    `variants`: only the variants of these names (names not declared are skipped; the base's
    `Design.variants` lists those that are). `for_compare`: also skip the variants written
    with `compare = false` (unless named in `variants`), without resolving them."""
    from pebdsl.resolve import resolve_all

    tree, source, parse_s = read(path)
    t0 = time.perf_counter()
    designs = resolve_all(
        tree, source, variants, for_compare=for_compare, allow_outside=allow_outside
    )
    # One parse serves every variant; resolving is shared out evenly among them.
    resolve_s = (time.perf_counter() - t0) / len(designs)
    for design in designs.values():
        design.timings.update(parse=parse_s, resolve=resolve_s)
    return designs


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
