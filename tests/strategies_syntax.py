"""Hypothesis strategies for valid-syntax trees (`pebdsl.front.syntax.File`), without spans.

Every tree drawn here can be written by the formatter and parsed back to an equal tree: names
avoid keywords where the grammar would read them as keywords, binary operators carry the `Paren`
nodes that their precedence needs, and a minus sign in front of a literal is part of the number
(`-3`), as the parser folds it.
"""

from __future__ import annotations

from hypothesis import strategies as st

from pebdsl.front import syntax as s

KEYWORDS = frozenset(
    [
        "design",
        "horizon",
        "series",
        "grid",
        "template",
        "block",
        "participant",
        "from",
        "market",
        "product",
        "dso",
        "variant",
        "without",
        "set",
        "link",
        "flexibility",
        "fees",
        "load",
        "pv",
        "wind",
        "battery",
        "flexible",
        "connection",
        "daily",
        "true",
        "false",
        "unit",
    ]
)
ASSET_KINDS = ("load", "pv", "wind", "battery", "flexible", "connection")
EDIT_KINDS = ("market", "participant", "block", "product", "series", "template")
UNITS = (
    "kW",
    "kWh",
    "kWp",
    "MWh",
    "%",
    "EUR/kWh",
    "EUR/MWh",
    "ct/kWh",
    "EUR/kW/month",
    "min",
    "h",
    "d",
    "deg",
    "p/kWh",
    "NOK",
)
DATES = (
    "2021-06-07",
    "2021-06-07T06:00",
    "2023-01-01T00:00:00",
    "2021-06-07T06:00+02:00",
    "2024-02-29T23:59:59Z",
)
KEYWORD_VALUES = (
    "p2p",
    "pool",
    "all",
    "none",
    "dso",
    "any",
    "local",
    "midpoint",
    "pv",
    "wind",
    "energy",
    "flexibility",
    "initial",
)

_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_REST = _FIRST + "0123456789"
identifiers = st.builds(
    lambda a, b: a + b, st.sampled_from(_FIRST), st.text(_REST, max_size=8)
).filter(lambda n: n not in KEYWORDS)
plain_names = st.one_of(
    st.sampled_from(("alice", "bob", "carol", "spot", "solar", "home", "sunny_street", "x")),
    identifiers,
)


def names() -> st.SearchStrategy[s.Name]:
    return plain_names.map(s.Name)


# -- expressions ------------------------------------------------------------------------------

non_negative_numbers = st.one_of(
    st.integers(0, 10**9).map(str),
    st.floats(0, 1e12, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(("1e-3", "2.5E+3", "0.5", "007")),
)


@st.composite
def numbers(draw: st.DrawFn) -> s.Number:
    text = draw(non_negative_numbers)
    if draw(st.booleans()) and draw(st.booleans()):
        text = "-" + text
    return s.Number(float(text), text)


units = st.one_of(
    st.sampled_from(UNITS),
    st.builds(lambda a, b: a + b, st.sampled_from(_FIRST[:52]), st.text(_REST, max_size=5)),
)
strings = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('"\\#;{}'), max_size=12
)
paths = st.lists(st.one_of(plain_names, st.sampled_from(ASSET_KINDS)), min_size=0, max_size=2)


@st.composite
def refs(draw: st.DrawFn) -> s.Ref:
    first = draw(st.one_of(plain_names, st.sampled_from(KEYWORD_VALUES)))
    rest = draw(paths)
    return s.Ref(s.Path((first, *rest)))


leaves = st.one_of(
    numbers(),
    st.builds(s.Quantity, numbers(), units.map(s.Unit)),
    strings.map(s.String),
    st.booleans().map(s.Bool),
    st.sampled_from(DATES).map(s.DateTime),
    refs(),
)

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _needs_paren(e: s.Expr) -> bool:
    return isinstance(e, (s.BinOp, s.Neg))


@st.composite
def _binop(draw: st.DrawFn, children: st.SearchStrategy[s.Expr]) -> s.Expr:
    op = draw(st.sampled_from("+-*/"))
    left, right = draw(children), draw(children)
    if isinstance(left, s.BinOp) and _PREC[left.op] < _PREC[op]:
        left = s.Paren(left)
    if isinstance(right, s.BinOp) and _PREC[right.op] <= _PREC[op]:
        right = s.Paren(right)
    return s.BinOp(op, left, right)


@st.composite
def _neg(draw: st.DrawFn, children: st.SearchStrategy[s.Expr]) -> s.Expr:
    x = draw(children)
    if isinstance(x, s.BinOp):
        x = s.Paren(x)
    if isinstance(x, s.Number) and not x.text.startswith("-"):
        x = s.Paren(x)
    if isinstance(x, s.Quantity) and not x.number.text.startswith("-"):
        x = s.Paren(x)
    return s.Neg(x)


@st.composite
def _call(draw: st.DrawFn, children: st.SearchStrategy[s.Expr]) -> s.Call:
    func = draw(plain_names)
    args = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("pos", "kw", "unit")))
        if kind == "pos":
            args.append(s.Arg(None, draw(children)))
        elif kind == "kw":
            args.append(s.Arg(s.Name(draw(plain_names)), draw(children)))
        else:
            args.append(s.Arg(s.Name("unit"), s.UnitValue(s.Unit(draw(units)))))
    return s.Call(s.Name(func), tuple(args))


def _lists(children: st.SearchStrategy[s.Expr]) -> st.SearchStrategy[s.List]:
    return st.builds(
        s.List,
        st.lists(children, max_size=6).map(tuple),
        st.one_of(st.none(), units.map(s.Unit)),
    )


def _extend(children: st.SearchStrategy[s.Expr]) -> st.SearchStrategy[s.Expr]:
    return st.one_of(
        _binop(children),
        _neg(children),
        children.map(s.Paren),
        _lists(children),
        _lists(children).map(s.Daily),
        _call(children),
    )


expressions: st.SearchStrategy[s.Expr] = st.recursive(leaves, _extend, max_leaves=8)
long_lists = st.builds(
    s.List,
    st.lists(st.sampled_from(("0.25", "12", "1e-3", "-7", "1000.5")), min_size=20, max_size=40).map(
        lambda xs: tuple(s.Number(float(x), x) for x in xs)
    ),
    units.map(s.Unit),
)
values = st.one_of(expressions, expressions, expressions, long_lists, long_lists.map(s.Daily))


# -- statements -------------------------------------------------------------------------------
attr_keys = st.one_of(plain_names, st.sampled_from(ASSET_KINDS)).map(s.Name)
attributes = st.builds(s.Attribute, attr_keys, values)


def _body(items: st.SearchStrategy[object], max_size: int = 3) -> st.SearchStrategy[s.Body]:
    return st.lists(items, max_size=max_size).map(lambda xs: s.Body(tuple(xs)))


attr_bodies = _body(attributes, 5)
assets = st.builds(
    s.Asset,
    st.sampled_from(ASSET_KINDS),
    st.one_of(st.none(), names()),
    attr_bodies,
)
range_names = st.builds(
    lambda stem, a, n: s.RangeName(stem, a, a + n),
    plain_names,
    st.integers(0, 50),
    st.integers(0, 20),
)
participants = st.builds(
    s.Participant,
    st.one_of(names(), range_names),
    st.one_of(st.none(), names()),
    _body(st.one_of(attributes, assets)),
)
fees = st.builds(
    s.FeesTable,
    st.lists(st.builds(s.PairFee, names(), names(), values), max_size=3).map(tuple),
)
links = st.builds(s.Link, names(), names(), attr_bodies)
flexes = st.builds(s.Flexibility, names(), attr_bodies)
body_items = st.one_of(attributes, attributes, assets, participants, fees, links, flexes)
bodies = _body(body_items)

series = st.builds(s.SeriesDecl, names(), values)
decls_named = st.one_of(
    series,
    st.builds(s.TemplateDecl, names(), _body(st.one_of(attributes, assets))),
    st.builds(s.BlockDecl, names(), _body(st.one_of(attributes, participants, assets))),
    participants,
    st.builds(s.Asset, st.just("battery"), names(), attr_bodies),
    st.builds(s.MarketDecl, names(), _body(st.one_of(attributes, fees))),
    st.builds(s.ProductDecl, names(), attr_bodies),
)
decls_singleton = st.one_of(
    st.builds(s.HorizonDecl, attr_bodies),
    st.builds(s.GridDecl, attr_bodies),
    st.builds(s.DsoDecl, _body(st.one_of(attributes, links, flexes))),
)


@st.composite
def targets(draw: st.DrawFn) -> s.Path:
    first = draw(st.one_of(plain_names, st.just("*")))
    rest = draw(
        st.lists(st.one_of(plain_names, st.sampled_from(("*", "battery", "pv"))), max_size=2)
    )
    return s.Path((first, *rest))


withouts = st.one_of(
    st.builds(s.Without, st.one_of(st.none(), st.sampled_from(EDIT_KINDS)), targets()),
    st.builds(lambda a, b: s.Without("link", s.Path((a, b))), plain_names, plain_names),
)
sets = st.builds(
    s.SetEdit, st.one_of(st.none(), st.sampled_from(EDIT_KINDS)), targets(), expressions
)
# A variant's own attributes come first in its items (the parser lists them there).
variants = st.builds(
    lambda name, attrs, edits: s.VariantDecl(name, tuple(attrs) + tuple(edits)),
    names(),
    st.lists(attributes, max_size=2),
    st.lists(st.one_of(withouts, sets, decls_named, decls_singleton), max_size=4),
)
designs = st.builds(s.DesignDecl, strings.map(s.String), attr_bodies)
top_decls = st.one_of(designs, decls_named, decls_singleton, variants)


@st.composite
def files(draw: st.DrawFn) -> s.File:
    decls = draw(st.lists(top_decls, max_size=5))
    if draw(st.booleans()):
        decls.insert(0, draw(designs))
    return s.File(tuple(decls))
