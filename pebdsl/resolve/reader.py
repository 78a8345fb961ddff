"""Reading attribute values: the helpers every concept builder of the resolve passes shares.

Input: the syntax items of one declaration's body (after template merging and variant edits),
the `Model` (for names), the `SeriesContext` of the design (for quantities and series).
Output: attributes by name, constants in canonical units (range-checked), series as arrays on
the horizon's grid, words from a fixed choice; `Reader.where` records precise value spans for
`checks.py` and `lint.py`.
Errors are recorded on `Reader.errs` and signalled with `model.Failed`: E104 unknown attribute
(with a did-you-mean hint and the attributes the declaration takes), E109 attribute given
twice, E301 missing attribute, E302 value out of range or negative, E304 misplaced item, E307
a word not among the choices; units and data errors come from `units.py` and `series.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from pebdsl import design as D
from pebdsl.diagnostics import Diagnostic, PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.checks import Where
from pebdsl.resolve.model import Errors, Failed, Model, Single
from pebdsl.resolve.namespace import ASSETS
from pebdsl.resolve.series import SeriesContext, strip
from pebdsl.source import NO_SPAN, Span

# Attributes a participant (or its template) takes for its customer class and tariff, and a
# battery for its availability (resolve/tariffs.py reads them).
PARTICIPANT_TARIFF = (
    "class",
    "vat",
    "energy_charge",
    "capacity_charge",
    "capacity_peak",
    "capacity_steps",
    "capacity_step_prices",
)
BATTERY_AVAILABILITY = ("available", "arrival_soc", "departure_soc")

__all__ = ["ATTRIBUTES", "Reader", "is_word", "text_of"]


# Attributes each declaration accepts (anything else is E104 with a suggestion).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "design": ("currency", "description", "reference"),
    "horizon": ("start", "duration", "end", "step", "timezone"),
    "grid": ("buy", "sell", "bidder"),
    "day_ahead": ("buy", "sell"),
    "intraday": ("buy", "sell"),
    "load": ("profile", "annual"),
    "pv": ("profile", "peak"),
    "wind": ("profile", "peak"),
    "battery": (
        *BATTERY_AVAILABILITY,
        "capacity",
        "power",
        "efficiency",
        "min_soc",
        "initial",
        "final",
        "charge_from",
        "throughput_cost",
        "owners",
        "shares",
        "stage",
    ),
    "flexible": ("share", "window", "cost"),
    "connection": ("import", "export"),
    # the customer class and own tariff (resolve/tariffs.py)
    "participant": ("connection", *PARTICIPANT_TARIFF),
    "template": ("connection", *PARTICIPANT_TARIFF),
    "block": ("connection",),
    "market": (
        "type",
        "members",
        "fee",
        "loss",
        "operator",
        "products",
        "settlement",
        "rent",
        "charge_on",
    ),
    "product": ("origin", "premium"),
    "dso": (
        "energy_charge",
        "capacity_charge",
        "capacity_basis",
        "charge_on",
        "reinforcement_cost",
    ),
    "link": ("capacity", "loss", "fee"),
    "flexibility": ("limit", "price"),
    "variant": ("description", "compare", "reference"),
}


class Reader:
    """Reads the attribute values of one design; shared by the concept builders."""

    def __init__(self, m: Model, errs: Errors, directory: Path) -> None:
        self.m = m
        self.errs = errs
        self.currency = "EUR"
        self.where: Where = {}
        self.ctx: SeriesContext | None = None
        # Sizes the optimisation chooses (`invest(...)`, resolve/sizing.py), by path.
        self.investments: dict[str, D.Investment] = {}
        self.directory = directory

    def attrs(
        self, items: list[Any] | tuple[Any, ...], kind: str, allowed_items: tuple[type, ...] = ()
    ) -> dict[str, S.Attribute]:
        """The attributes of a body by name (E104 unknown, E109 twice, E304 misplaced)."""
        names = ATTRIBUTES.get(kind, ())
        out: dict[str, S.Attribute] = {}
        for it in items:
            if isinstance(it, S.Attribute):
                n = it.name.value
                if n not in names:
                    extra = (
                        [a for a in ASSETS if a != "connection"]
                        if kind in ("participant", "template")
                        else []
                    )
                    hints = did_you_mean(n, [*names, *extra])
                    listing = ", ".join(names) if names else "none"
                    self.errs.add(
                        error(
                            "E104",
                            f"unknown attribute `{n}` for {kind}",
                            it.name.span,
                            "unknown attribute",
                            (*hints, f"{kind} takes: {listing}"),
                        )
                    )
                    continue
                if n in out:
                    self.errs.add(
                        Diagnostic(
                            "E109",
                            f"`{n}` is given twice",
                            it.name.span,
                            "given again",
                            related=((out[n].name.span, "first given here"),),
                        )
                    )
                    continue
                out[n] = it
            elif not isinstance(it, allowed_items):
                what = (
                    it.kind
                    if isinstance(it, S.Asset)
                    else {
                        S.FeesTable: "fees",
                        S.Link: "link",
                        S.Flexibility: "flexibility",
                        S.Participant: "participant",
                    }.get(type(it), "declaration")
                )
                self.errs.add(
                    error("E304", f"`{what}` cannot appear in {kind}", it.span, "misplaced")
                )
        return out

    def need(
        self, attrs: dict[str, S.Attribute], name: str, kind: str, span: Span, example: str
    ) -> S.Attribute:
        """The attribute `name`, or E301 (with an example) and `Failed`."""
        a = attrs.get(name)
        if a is None:
            self.errs.add(
                error(
                    "E301",
                    f"{kind} needs `{name}`",
                    span,
                    f"missing `{name}`",
                    (f"add `{name} = {example}`",),
                )
            )
            raise Failed
        return a

    def const(
        self,
        a: S.Attribute | None,
        dimension: str,
        what: str,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
        default: float | None = None,
    ) -> float:
        """A constant attribute in canonical units, range-checked (E302)."""
        if a is None:
            if default is None:
                raise Failed
            return default
        assert self.ctx is not None
        try:
            v = self.ctx.constant(a.value, dimension, what)
        except PebdslError as e:
            self.errs.diags.extend(e.diagnostics)
            raise Failed from None
        self.range(v, a, what, lo, hi, lo_open, hi_open)
        return v

    def range(
        self,
        v: float,
        a: S.Attribute,
        what: str,
        lo: float | None,
        hi: float | None,
        lo_open: bool = False,
        hi_open: bool = False,
    ) -> None:
        """E302 (and `Failed`) unless `v` lies in the range given."""
        bad = (lo is not None and (v < lo or (lo_open and v == lo))) or (
            hi is not None and (v > hi or (hi_open and v == hi))
        )
        if bad:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            if hi is None:
                rng = f"{'greater than' if lo_open else 'at least'} {lo:g}"
            else:
                rng = f"in {lb}{lo:g}, {hi:g}{rb}"
            self.errs.add(
                error("E302", f"{what} must be {rng}, got {v:g}", a.value.span, "out of range")
            )
            raise Failed

    def series(self, a: S.Attribute, dimension: str, what: str) -> D.FloatArray:
        """A series attribute as one value per step in the canonical unit of `dimension`."""
        assert self.ctx is not None
        try:
            return self.ctx.array(a.value, dimension, what)
        except PebdslError as e:
            self.errs.diags.extend(e.diagnostics)
            raise Failed from None

    def word(self, a: S.Attribute, choices: tuple[str, ...], what: str) -> str:
        """A word among `choices` (E307 with a suggestion otherwise)."""
        v = strip(a.value)
        text = v.name if isinstance(v, S.Ref) else v.value if isinstance(v, S.String) else None
        if text not in choices:
            shown = text if text is not None else type(v).__name__.lower()
            self.errs.add(
                error(
                    "E307",
                    f"{what} must be one of {', '.join(choices)}; got `{shown}`",
                    a.value.span,
                    "not allowed here",
                    did_you_mean(str(text), choices),
                )
            )
            raise Failed
        return cast(str, text)

    # -- the design -------------------------------------------------------------------------

    def words(self, a: S.Attribute, choices: tuple[str, ...], what: str) -> list[str]:
        """A word or a list of words, each among `choices` (E307)."""
        v = strip(a.value)
        items = v.items if isinstance(v, S.List) else (v,)
        out = []
        for it in items:
            it = strip(it)
            if not (isinstance(it, S.Ref) and it.name in choices):
                t = text_of(it)
                self.errs.add(
                    error(
                        "E307",
                        f"{what} takes {', '.join(choices)}; got `{t}`",
                        it.span,
                        "not allowed here",
                        did_you_mean(t, choices),
                    )
                )
                raise Failed
            out.append(it.name)
        return out

    def nonnegative(self, values: D.FloatArray, a: S.Attribute, what: str) -> None:
        """E302 (and `Failed`) at the first negative value of a kW series."""
        neg = values < 0
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            self.errs.add(
                error(
                    "E302",
                    f"{what} is negative ({values[i]:g} kW) at step {i + 1}",
                    a.value.span,
                    "must not be negative",
                )
            )
            raise Failed

    def required_single(self, keyword: str, example: str) -> Single:
        """The design's one `horizon` / `grid` declaration, or E301 at the design line."""
        single = self.m.singles.get(keyword)
        if single is None:
            span = self.m.singles.get("design", Single(self.m.file_span)).span
            self.errs.add(
                error(
                    "E301",
                    f"the design has no `{keyword}`",
                    span,
                    f"missing {keyword}",
                    (f"add `{example}`",),
                )
            )
            raise Failed
        return single


def text_of(e: Any) -> str:
    """A name, string or the source text of an expression, for messages."""
    if isinstance(e, S.Ref):
        return e.name
    if isinstance(e, S.String):
        return e.value
    sp = getattr(e, "span", NO_SPAN)
    return sp.text if sp is not NO_SPAN else type(e).__name__


def is_word(e: S.Expr, word: str) -> bool:
    """Whether `e` is the plain word `word` (`none`, `initial`, …)."""
    e = strip(e)
    return isinstance(e, S.Ref) and e.name == word
