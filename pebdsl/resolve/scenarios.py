"""Scenarios of a two-stage stochastic design: `scenarios { … }` and `by_scenario { … }`.

Input: the `scenarios` singleton (after the variant's edits) and, for generated scenarios, the
expected-value `Design`. Output: a `Spec` (declared names with probabilities, or the generator's
settings) that the series pass reads to evaluate `by_scenario`, and `generate()`: the
scenario designs made around the forecast, reduced if asked.

Two forms (docs/stochastic.md):
- declared: `scenarios { sunny = 60 %; cloudy = 40 % }`; probabilities (percent or fractions)
  must sum to 100 % (E350). Series may then be scenario-valued with `by_scenario { … }` naming
  each scenario once (E351).
- generated around the forecast: `scenarios { count = 20; seed = 7; pv_error = 30 %;
  load_error = 10 %; price_error = 15 %; correlation = 0.8; reduce = 5 }`. The error model is
  multiplicative, autocorrelated in time and truncated at zero: scenario k's factor on a series
  is max(0, 1 + σ·e_t) with e an AR(1) process e_t = ρ·e_{t−1} + √(1−ρ²)·ξ_t, ξ_t ~ N(0, 1),
  e_0 ~ N(0, 1) (stationary, unit variance), ρ = `correlation` (default 0.8 per step). PV
  (all participants' pv and wind, one weather), each participant's load (independent draws) and
  the intraday prices (one market) get their own draws; the day-ahead prices are known, and a
  drawn intraday buy (sell) price is kept at or above (below) the day-ahead sell (buy) price so
  no scenario offers a sure gain between the stages. Each
  drawn scenario has probability 1/count; `reduce = N` keeps N of them by fast forward
  selection (Heitsch & Römisch 2003, "Scenario reduction algorithms in stochastic
  programming"), moving each dropped scenario's probability to its nearest kept one.

Scenario-valued data besides `by_scenario` (evaluated in series.py): `csv(…, columns =
scenarios)` reads the scenario's column, a generator's `seed = scenario` draws with seed 1, 2, …
for the first, second, … scenario; in the design itself both are the probability-weighted mean.

Errors: E350 probabilities not summing to 100 %, a probability outside (0, 100 %] or a bad
generator setting; E351 `by_scenario` with a scenario missing, unknown or named twice, or in a
design without declared scenarios (so too `columns = scenarios` and `seed = scenario`); E104
an unknown generator setting; E307 a value that is not a number or percentage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from pebdsl import design as D
from pebdsl import units as U
from pebdsl.diagnostics import did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.expr import strip
from pebdsl.resolve.model import Errors, Single
from pebdsl.source import NO_SPAN, Span

__all__ = ["GENERATOR_SETTINGS", "Spec", "generate", "read", "reduce_forward"]

GENERATOR_SETTINGS = (
    "count",
    "seed",
    "pv_error",
    "load_error",
    "price_error",
    "correlation",
    "reduce",
)


@dataclass
class Spec:
    """What a `scenarios` block says: declared scenarios, or settings to generate them."""

    span: Span = NO_SPAN
    declared: tuple[D.Scenario, ...] = ()
    generated: dict[str, float] = field(default_factory=dict)
    # Every scenario name the file declares anywhere (base and variants): a by_scenario branch
    # of a scenario this variant removed is skipped, a name declared nowhere is E351.
    known: frozenset[str] = frozenset()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.declared)

    def probability(self, name: str) -> float:
        return next(s.probability for s in self.declared if s.name == name)


def _fraction(a: S.Attribute, errs: Errors, what: str) -> float | None:
    """A number or percentage as a fraction (`60 %` = 0.6, `0.6` = 0.6); None after an error."""
    e = strip(a.value)
    if isinstance(e, S.Quantity):
        try:
            return U.convert(float(e.number.value), e.unit.text, "ratio", e.span, what=what)
        except Exception as exc:  # a PebdslError: its diagnostics are the user's
            errs.diags.extend(getattr(exc, "diagnostics", ()))
            return None
    if isinstance(e, S.Number):
        return float(e.value)
    errs.add(
        error("E307", f"{what} must be a number or a percentage", a.value.span, "not a number")
    )
    return None


def file_scenario_names(file: S.File) -> frozenset[str]:
    """The scenario names declared anywhere in the file (base and variants)."""
    out: set[str] = set()
    decls: list[object] = list(file.decls)
    for d in file.decls:
        if isinstance(d, S.VariantDecl):
            decls.extend(d.items)
    for node in decls:
        if isinstance(node, S.ScenariosDecl):
            out.update(a.name.value for a in node.body.items if isinstance(a, S.Attribute))
    return frozenset(out)


def read(single: Single | None, errs: Errors, known: frozenset[str] = frozenset()) -> Spec | None:
    """The design's scenarios (None: a deterministic design)."""
    if single is None:
        return None
    attrs = [it for it in single.items if isinstance(it, S.Attribute)]
    for it in single.items:
        if not isinstance(it, S.Attribute):
            errs.add(error("E304", "only `name = probability` in scenarios", it.span, "misplaced"))
    spec = Spec(single.span, known=known)
    if any(a.name.value in GENERATOR_SETTINGS for a in attrs):
        return _generated(spec, attrs, errs)
    seen: dict[str, S.Attribute] = {}
    out = []
    for a in attrs:
        n = a.name.value
        if n in seen:
            errs.add(error("E109", f"scenario `{n}` is given twice", a.name.span, "given again"))
            continue
        seen[n] = a
        p = _fraction(a, errs, f"probability of scenario `{n}`")
        if p is None:
            continue
        if not 0.0 < p <= 1.0:
            errs.add(
                error("E350", f"probability of scenario `{n}` must be in (0, 100 %]", a.value.span)
            )
            continue
        out.append(D.Scenario(n, p, a.span))
    if not attrs:
        errs.add(error("E350", "scenarios declares no scenario", single.span, "empty"))
    total = sum(s.probability for s in out)
    if out and len(out) == len(attrs) and abs(total - 1.0) > 1e-9:
        errs.add(
            error(
                "E350",
                f"scenario probabilities sum to {100 * total:g} %, not 100 %",
                single.span,
                "must sum to 100 %",
                (
                    "scale them, e.g. "
                    + ", ".join(f"{s.name} = {100 * s.probability / total:.4g} %" for s in out),
                ),
            )
        )
    spec.declared = tuple(out)
    return spec


def _generated(spec: Spec, attrs: list[S.Attribute], errs: Errors) -> Spec:
    """Generator settings: count ≥ 1 (required), seed, errors ≥ 0, 0 ≤ correlation < 1,
    1 ≤ reduce ≤ count."""
    vals: dict[str, float] = {}
    for a in attrs:
        n = a.name.value
        if n not in GENERATOR_SETTINGS:
            errs.add(
                error(
                    "E104",
                    f"unknown setting `{n}` for generated scenarios",
                    a.name.span,
                    "unknown attribute",
                    (
                        *did_you_mean(n, GENERATOR_SETTINGS),
                        "takes: " + ", ".join(GENERATOR_SETTINGS),
                    ),
                )
            )
            continue
        v = _fraction(a, errs, n)
        if v is None:
            continue
        integral = n in ("count", "seed", "reduce")
        bad = (
            (integral and (v != int(v) or v < (0 if n == "seed" else 1)))
            or (n.endswith("_error") and v < 0)
            or (n == "correlation" and not 0.0 <= v < 1.0)
            or not math.isfinite(v)
        )
        if bad:
            errs.add(error("E350", f"scenario setting `{n}` is out of range", a.value.span))
            continue
        vals[n] = v
    if "count" not in vals:
        errs.add(error("E350", "generated scenarios need `count`", spec.span, "missing count"))
    elif vals.get("reduce", 1) > vals["count"]:
        errs.add(error("E350", "`reduce` keeps at most `count` scenarios", spec.span))
    spec.generated = vals
    return spec


def by_scenario_names(e: S.ByScenario, spec: Spec | None) -> list[tuple[str, S.Expr]]:
    """The branches of a `by_scenario`, in the scenarios' order; raises E351 (as diagnostics
    in a list) when a scenario is missing, unknown or named twice."""
    from pebdsl.diagnostics import PebdslError

    if spec is None or not spec.declared:
        raise PebdslError(
            error(
                "E351",
                "`by_scenario` needs declared scenarios",
                e.span,
                "no scenarios",
                ("declare `scenarios { name = 50 %; other = 50 % }`",),
            )
        )
    names = spec.names
    got: dict[str, S.Attribute] = {}
    diags = []
    for it in e.body.items:
        if not isinstance(it, S.Attribute):
            diags.append(error("E351", "by_scenario holds `scenario = series` only", it.span))
            continue
        n = it.name.value
        if n not in names and n in spec.known:
            continue  # a scenario the variant removed
        if n not in names:
            diags.append(
                error(
                    "E351",
                    f"unknown scenario `{n}`",
                    it.name.span,
                    "not a scenario",
                    (*did_you_mean(n, names), "scenarios: " + ", ".join(names)),
                )
            )
        elif n in got:
            diags.append(error("E351", f"scenario `{n}` is named twice", it.name.span, "again"))
        else:
            got[n] = it
    missing = [n for n in names if n not in got]
    if missing and not diags:
        diags.append(
            error(
                "E351",
                "by_scenario misses scenario " + ", ".join(f"`{n}`" for n in missing),
                e.span,
                "every scenario is named once",
            )
        )
    if diags:
        raise PebdslError(diags)
    return [(n, got[n].value) for n in names]


def _ar1(rng: np.random.Generator, n: int, rho: float, size: int = 1) -> D.FloatArray:
    """`size` AR(1) paths of length n with unit stationary variance."""
    out = np.empty((size, n))
    out[:, 0] = rng.standard_normal(size)
    scale = math.sqrt(1.0 - rho * rho)
    for t in range(1, n):
        out[:, t] = rho * out[:, t - 1] + scale * rng.standard_normal(size)
    return out


def _factor(e: D.FloatArray, sigma: float) -> D.FloatArray:
    return np.maximum(0.0, 1.0 + sigma * e)


def generate(design: D.Design, spec: Spec) -> D.Stochastic:
    """Scenario designs drawn around `design` (the forecast), reduced if asked."""
    g = spec.generated
    count, seed = int(g["count"]), int(g.get("seed", 0))
    rho = g.get("correlation", 0.8)
    pv_s, load_s, price_s = (g.get(k, 0.0) for k in ("pv_error", "load_error", "price_error"))
    rng = np.random.default_rng(seed)
    n = design.n_steps
    names = tuple(design.participants)
    draws = []
    for _ in range(count):
        pv = _factor(_ar1(rng, n, rho)[0], pv_s)
        load = _factor(_ar1(rng, n, rho, len(names)), load_s)
        price = _factor(_ar1(rng, n, rho)[0], price_s)
        draws.append((pv, load, price))
    probs = np.full(count, 1.0 / count)
    keep = list(range(count))
    method = (
        f"{count} scenarios drawn around the forecast (seed {seed}; multiplicative AR(1) errors "
        f"ρ = {rho:g}: pv {100 * pv_s:g} %, load {100 * load_s:g} %, price {100 * price_s:g} %)"
    )
    if "reduce" in g and int(g["reduce"]) < count:
        vectors = np.array([np.concatenate([pv, ld.ravel(), pr]) for pv, ld, pr in draws])
        keep, kept_p = reduce_forward(vectors, probs, int(g["reduce"]))
        probs = np.zeros(count)
        probs[keep] = kept_p
        method += f", reduced to {len(keep)} by fast forward selection (Heitsch & Römisch 2003)"
    scenarios = []
    designs = {}
    for k in keep:
        name = f"s{k + 1}"
        scenarios.append(D.Scenario(name, float(probs[k]), spec.span))
        designs[name] = _perturbed(design, *draws[k])
    return D.Stochastic(tuple(scenarios), designs, method, spec.span, correlation=rho)


def _perturbed(d: D.Design, pv: D.FloatArray, load: D.FloatArray, price: D.FloatArray) -> D.Design:
    """The design with generation × pv, each load × its factor, intraday prices × price."""
    parts = {}
    for i, (name, p) in enumerate(d.participants.items()):
        gens = tuple(replace(g, profile_kw=g.profile_kw * pv) for g in p.generation)
        ld = replace(p.load, profile_kw=p.load.profile_kw * load[i]) if p.load else None
        parts[name] = replace(p, generation=gens, load=ld)
    gr = d.grid
    buy = gr.buy_per_kwh * price
    sell = None if gr.sell_per_kwh is None else gr.sell_per_kwh * price
    da = gr.day_ahead
    # No scenario may offer a sure gain between the stages (sell day-ahead and buy back
    # intraday for less, or the reverse): the drawn intraday buy stays at or above the
    # day-ahead sell price and the intraday sell at or below the day-ahead buy price.
    if da is not None and da.sell_per_kwh is not None:
        buy = np.maximum(buy, da.sell_per_kwh)
    if da is not None and sell is not None:
        sell = np.minimum(sell, da.buy_per_kwh)
    grid = replace(gr, buy_per_kwh=buy, sell_per_kwh=sell)
    return replace(d, participants=parts, grid=grid, stochastic=None)


def reduce_forward(
    vectors: D.FloatArray, probs: D.FloatArray, keep_n: int
) -> tuple[list[int], D.FloatArray]:
    """Fast forward selection (Heitsch & Römisch 2003): pick, one at a time, the scenario whose
    addition most lowers the probability-weighted distance of all scenarios to their nearest
    selected one; then each unselected scenario's probability goes to its nearest selected one.
    Returns the selected indices (in selection order) and their new probabilities."""
    diff = vectors[:, None, :] - vectors[None, :, :]
    dist = np.sqrt((diff * diff).sum(axis=2))
    n = len(probs)
    selected: list[int] = []
    nearest = np.full(n, np.inf)
    for _ in range(keep_n):
        best, best_cost = -1, np.inf
        for u in range(n):
            if u in selected:
                continue
            cand = np.minimum(nearest, dist[:, u])
            cost = float((probs * cand).sum())
            if cost < best_cost:
                best, best_cost = u, cost
        selected.append(best)
        nearest = np.minimum(nearest, dist[:, best])
    owner = np.array([selected[int(np.argmin(dist[i, selected]))] for i in range(n)])
    new_p = np.array([probs[owner == s].sum() for s in selected])
    return selected, new_p
