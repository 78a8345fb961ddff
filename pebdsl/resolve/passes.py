"""The resolve passes, in order: one design from a parsed file, through a shared `State`.

Input: a `syntax.File` (from the parser), its `SourceFile`, the chosen variant (None = the base
design) and `sets` (extra `set` edits as text: `"alice.pv.peak = 8 kWp"`, from `--set` and
`sweep`). Output: a validated `design.Design` (floats in canonical units, series as numpy
arrays on the horizon's grid, the `Span` of every declaration, check-time warnings).

Once per file, `namespace.collect` gathers the declarations into the base `Model` (E102, E107,
E304). Then, per design, `PASSES` run in order over one `State`:

    edits             the variant's edits, then `--set` (`variants.py`; E108 unknown variant)
    heading           the design's currency and description, the variant's attributes
    horizon           the time grid (`time.py`)
    scenarios         the declared or generated scenarios (`scenarios.py`; E320)
    series            every declared series evaluated once (`series.py`, `csvread.py`, …)
    grid              grid prices (`grid.py`)
    participants      participants with their templates and assets (`participants.py`)
    shared_batteries  named batteries with owners and shares (`batteries.py`)
    blocks            blocks (`blocks.py`)
    products          declared products (`markets.py`)
    markets           markets (`markets.py`)
    dso               DSO charges, links, flexibility needs (`grid.py`, `blocks.py`)
    goals             what the design must deliver (`goals.py`)
    reference         the design's reference variant (`heading.py`)
    assemble          every error so far raised together, else the `Design` (+ data hash)
    check             cross-object rules (`checks.py`)
    lint              check-time warnings (`lint.py`), kept on `Design.warnings`
    realise           a stochastic design's scenarios, each a whole `Design` on
                      `Design.stochastic` (`scenarios.py`): declared ones by running the
                      passes again with the scenario chosen, generated ones drawn

A new capability gets its own module and its own entry here, after the passes it reads.
Within a pass errors are collected, not raised one by one (`model.Errors`); a part that
failed is left out so later passes report their own errors too.

Errors: those of each module named above; E301 a design without a horizon.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pebdsl.resolve.batteries as _batteries
import pebdsl.resolve.blocks as _blocks
import pebdsl.resolve.goals as _goals
import pebdsl.resolve.grid as _grid
import pebdsl.resolve.heading as _heading
import pebdsl.resolve.markets as _markets
import pebdsl.resolve.participants as _participants
import pebdsl.resolve.scenarios as _scenarios
import pebdsl.resolve.time as _time
from pebdsl import design as D
from pebdsl.diagnostics import Diagnostic, PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.logs import stage
from pebdsl.resolve.checks import check_design
from pebdsl.resolve.lint import lint as warnings_of
from pebdsl.resolve.lint import series_used
from pebdsl.resolve.model import Errors, Failed, Single, dedupe
from pebdsl.resolve.namespace import collect
from pebdsl.resolve.series import SeriesContext
from pebdsl.resolve.state import State
from pebdsl.resolve.variants import apply_variant, parse_sets, variant_compare_flags
from pebdsl.source import NO_SPAN, SourceFile

log = logging.getLogger(__name__)

__all__ = ["PASSES", "Pass", "Resolver", "resolve", "resolve_all"]

Pass = Callable[[State], None]


def edits(st: State) -> None:
    """The variant's edits, then the `--set` edits, on the state's copy of the model."""
    m, errs = st.model, st.errs
    if st.variant is not None:
        node = m.nodes.get(st.variant)
        if node is None or node.kind != "variant":
            raise PebdslError(
                error(
                    "E108",
                    f"unknown variant `{st.variant}`",
                    NO_SPAN,
                    "",
                    (
                        *did_you_mean(st.variant, m.variants),
                        "variants: " + (", ".join(m.variants) or "none"),
                    ),
                )
            )
        apply_variant(m, node.decl, errs)
        st.variant_attrs = [it for it in node.decl.items if isinstance(it, S.Attribute)]
        st.variant_span = node.decl.span
    set_edits: list[S.SetEdit] = []
    if st.sets:
        set_edits = parse_sets(st.sets)
        apply_variant(m, S.VariantDecl(S.Name("--set"), tuple(set_edits)), errs)
    errs.raise_if_any()
    extra = series_used(st.file, set_edits) if set_edits else set()
    st.series_used = st.file_series_used() | extra


def heading(st: State) -> None:
    """The design's own attributes (currency first: later values read in it), the variant's."""
    single = st.model.singles.get("design", Single(NO_SPAN))
    st.design_span = single.span
    st.design_attrs, st.description = _heading.design_attributes(st.reader, single.items)
    st.variant_description, st.in_compare = _heading.variant_attributes(st.reader, st.variant_attrs)


def horizon(st: State) -> None:
    """The time grid; without one nothing else can be read (E301, with the errors so far)."""
    with contextlib.suppress(Failed):
        st.time = _time.horizon(st.reader)
    if st.time is None:
        st.errs.raise_if_any()
        raise PebdslError(error("E301", "the design has no horizon", st.design_span))


def scenarios(st: State) -> None:
    """The design's scenarios (read before the series: `by_scenario` names them)."""
    known = _scenarios.file_scenario_names(st.file)
    st.scenarios = _scenarios.read(st.model.singles.get("scenarios"), st.errs, known)


def series(st: State) -> None:
    """The series context of the design; every declared series evaluated once, so an unused
    broken series is still reported."""
    m = st.model
    assert st.time is not None
    kinds = {k: n.kind for k, n in m.nodes.items() if n.kind != "series"}
    for k in ("design", "horizon", "grid", "dso"):
        kinds.setdefault(k, "keyword")
    st.series_decls = {k: n.decl for k, n in m.nodes.items() if n.kind == "series"}
    ctx = SeriesContext(
        st.time, st.reader.currency, st.directory, st.series_decls, kinds, st.allow_outside
    )
    ctx.scenarios, ctx.scenario = st.scenarios, st.scenario
    ctx.data = st.data
    st.reader.ctx = ctx
    for name, decl in st.series_decls.items():
        with st.errs.guard():
            ctx.series(name, decl.name.span)


def grid(st: State) -> None:
    """The grid's buy and sell prices."""
    with contextlib.suppress(Failed):
        st.grid = _grid.grid(st.reader)


def participants(st: State) -> None:
    """Every participant (templates merged in); templates' own attributes checked too."""
    for node in st.model.of_kind("participant").values():
        with contextlib.suppress(Failed):
            st.participants[node.name] = _participants.participant(st.reader, node)
    for node in st.model.of_kind("template").values():
        st.reader.attrs(node.items, "template", (S.Asset,))


def shared_batteries(st: State) -> None:
    """The named batteries (top level or in a block), with their owners and shares."""
    for node in st.model.of_kind("battery").values():
        with contextlib.suppress(Failed):
            st.batteries[node.name] = _batteries.battery(
                st.reader, node.items, node.span, node.name, None, node.block
            )


def blocks(st: State) -> None:
    """The blocks with their connection, participants and shared batteries."""
    for node in st.model.of_kind("block").values():
        with contextlib.suppress(Failed):
            st.blocks[node.name] = _blocks.block(st.reader, node)


def products(st: State) -> None:
    """The declared products."""
    for node in st.model.of_kind("product").values():
        with contextlib.suppress(Failed):
            st.products[node.name] = _markets.product(st.reader, node)


def markets(st: State) -> None:
    """The markets (members may name blocks, built by the `blocks` pass)."""
    for node in st.model.of_kind("market").values():
        with contextlib.suppress(Failed):
            st.markets[node.name] = _markets.market(st.reader, node, st.blocks)


def dso(st: State) -> None:
    """The DSO's charges, links and flexibility needs (a design without `dso` has none)."""
    if "dso" in st.model.singles:
        with contextlib.suppress(Failed):
            st.dso = _grid.dso(st.reader, st.model.singles["dso"])


def goals_(st: State) -> None:
    """What the design must deliver (`goals { … }`, resolve/goals.py)."""
    if "goals" in st.model.singles:
        st.goals = _goals.goals(st.reader, st.model.singles["goals"], st.blocks)


def reference(st: State) -> None:
    """The reference variant: the variant's own `reference = v` when it writes one (a winter
    case against the winter reference), else the design's."""
    own = {a.name.value: a for a in st.variant_attrs if a.name.value == "reference"}
    st.reference = _heading.reference(st.reader, own or st.design_attrs)


def assemble(st: State) -> None:
    """Every error recorded so far, raised together; else the `Design` with the sha256 of the
    data files it read (paths relative to the design's folder)."""
    st.errs.raise_if_any()
    ctx = st.reader.ctx
    assert st.grid is not None and st.time is not None and ctx is not None
    digest = hashlib.sha256()
    for path, sha in sorted(ctx.data_files.items()):
        # In-memory series (`data("name")`) are keyed "\0data:name": no file path holds NUL.
        rel = path if path.startswith("\0") else os.path.relpath(path, st.directory)
        digest.update(f"{rel}:{sha}\n".encode())
    st.design = D.Design(
        title=st.model.singles.get("design", Single(NO_SPAN)).title,
        currency=st.reader.currency,
        time=st.time,
        grid=st.grid,
        participants=st.participants,
        blocks=st.blocks,
        shared_batteries=st.batteries,
        markets=st.markets,
        products=st.products,
        dso=st.dso,
        description=st.description,
        variant=st.variant,
        variant_description=st.variant_description,
        in_compare=st.in_compare,
        variants=tuple(st.model.variants),
        reference=st.reference,
        investments=dict(st.reader.investments),
        goals=st.goals,
        sources=(st.source,),
        data_digest=digest.hexdigest() if ctx.data_files else "",
        span=st.design_span,
        variant_span=st.variant_span,
    )


def check(st: State) -> None:
    """Cross-object rules; any violation raises them all."""
    assert st.design is not None
    diags = check_design(st.design, st.reader.where)
    if diags:
        raise PebdslError(dedupe(diags))


def lint(st: State) -> None:
    """Check-time warnings on the valid design (names of markets and batteries as spans)."""
    assert st.design is not None
    where = st.reader.where
    unused = {k: d.name.span for k, d in st.series_decls.items() if k not in st.series_used}
    for node in st.model.of_kind("market").values():
        where[("market", node.name, "@name")] = node.name_span
    for node in st.model.of_kind("battery").values():
        where[("battery", node.name, "@name")] = node.name_span
    st.design = replace(st.design, warnings=tuple(warnings_of(st.design, where, unused)))


def realise(st: State) -> None:
    """Each scenario of a stochastic design as a whole `Design` (`Design.stochastic`); the
    design itself stays the expected-value one."""
    spec = st.scenarios
    if spec is None or st.scenario is not None or st.design is None:
        return
    if spec.generated:
        stoch = _scenarios.generate(st.design, spec)
    else:
        designs = {}
        for sc in spec.declared:
            child = State(
                st.file,
                st.source,
                st.variant,
                st.sets,
                st.model.copy(),
                Errors(),
                st.allow_outside,
                st.file_series_used,
                base_dir=st.base_dir,
                data=st.data,
            )
            child.series_used, child.variant_attrs = st.series_used, st.variant_attrs
            child.variant_span, child.scenario = st.variant_span, sc.name
            # The edits are already in the copied model; lint and realise are the design's.
            for run in PASSES[1:-2]:
                run(child)
            assert child.design is not None
            designs[sc.name] = child.design
        stoch = D.Stochastic(spec.declared, designs, "declared", spec.span)
    st.design = replace(st.design, stochastic=stoch)


PASSES: tuple[Pass, ...] = (
    edits,
    heading,
    horizon,
    scenarios,
    series,
    grid,
    participants,
    shared_batteries,
    blocks,
    products,
    markets,
    dso,
    goals_,
    reference,
    assemble,
    check,
    lint,
    realise,
)


class Resolver:
    """One parsed file: its base model collected once, any number of designs resolved from it."""

    def __init__(
        self,
        file: S.File,
        source: SourceFile | None,
        allow_outside: bool = False,
        base_dir: Path | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.allow_outside = allow_outside
        self.base_dir = base_dir  # None: the design file's folder
        self.data: Mapping[str, Any] = data or {}  # `data("name")` series, from Python
        self.file = file
        self.source = source if source is not None else file.span.source
        errs = Errors()
        self.base = collect(file, errs)
        self.base_errors = list(errs.diags)
        self._series_used: set[str] | None = None  # file-wide, for W105 (computed once)

    def file_series_used(self) -> set[str]:
        """The series the file's text uses anywhere (for W105), computed once."""
        if self._series_used is None:
            self._series_used = series_used(self.file)
        return self._series_used

    def design(self, variant: str | None, sets: list[str] | None) -> D.Design:
        """One design: the base (variant None) or a variant, `sets` applied on top."""
        errs = Errors()
        errs.diags.extend(self.base_errors)
        errs.raise_if_any()
        st = State(
            self.file,
            self.source,
            variant,
            list(sets or []),
            self.base.copy(),
            errs,
            self.allow_outside,
            self.file_series_used,
            base_dir=self.base_dir,
            data=self.data,
        )
        for run in PASSES:
            run(st)
        assert st.design is not None
        return replace(st.design, edits=tuple(sets)) if sets else st.design


def resolve(
    file: S.File,
    source: SourceFile | None = None,
    variant: str | None = None,
    sets: list[str] | None = None,
    *,
    allow_outside: bool = False,
    base_dir: Path | None = None,
    data: Mapping[str, Any] | None = None,
) -> D.Design:
    """One design: the base (variant None) or a variant, with `sets` applied on top.

    `base_dir`: where relative data paths start (None: the source file's folder); `data`: the
    in-memory series of `data("name")`."""
    where = source.path if source is not None else "<string>"
    log.info("resolve: %s (%s)", where, variant or "base", extra=stage("resolve"))
    return Resolver(file, source, allow_outside, base_dir, data).design(variant, sets)


def resolve_all(
    file: S.File,
    source: SourceFile | None = None,
    variants: Collection[str] | None = None,
    *,
    for_compare: bool = False,
    allow_outside: bool = False,
    base_dir: Path | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str | None, D.Design]:
    """The base design and the variants in declaration order (key None = the base).

    `variants`: only the variants of these names (names not declared are skipped; the base's
    `Design.variants` lists those that are). `for_compare`: also skip the variants written
    with `compare = false` (unless named in `variants`), without resolving them."""
    r = Resolver(file, source, allow_outside, base_dir, data)
    out: dict[str | None, D.Design] = {None: r.design(None, None)}
    diags: list[Diagnostic] = []
    flags = variant_compare_flags(file) if for_compare else {}
    for name in r.base.variants:
        named = variants is not None and name in variants
        if variants is not None and not named and not for_compare:
            continue
        if for_compare and not named and not flags.get(name, True):
            continue
        try:
            out[name] = r.design(name, None)
        except PebdslError as e:
            diags.extend(e.diagnostics)
    if diags:
        raise PebdslError(dedupe(diags))
    return out
