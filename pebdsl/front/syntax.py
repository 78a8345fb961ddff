"""The typed syntax tree of a design file.

Input: nothing (these are the node types). Output: frozen dataclasses produced by `parser.py`,
consumed by `formatter.py` (back to canonical text) and `pebdsl.resolve` (into `design.py` objects).
Every node carries the `Span` of its text; spans do not take part in equality, so two trees
parsed from differently formatted text compare equal when they mean the same (the formatter's
round-trip property). Raises nothing.

Conventions:
- A `Body` is the ordered statements between braces: attributes (`name = expr`), nested
  declarations (assets, participants, links, ...) and tables (`fees { a -> b = q }`).
- Values of attributes are `Expr` nodes; units stay as written (`Unit.text`) and are checked by
  `units.py`, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from pebdsl.source import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Name:
    """An identifier, `house3`, or a keyword used as a value (`p2p`, `all`, `none`, `pv`)."""

    value: str
    span: Span = _span()


@dataclass(frozen=True)
class RangeName:
    """`house[1..6]`: declares house1 … house6 (both ends included)."""

    stem: str
    first: int
    last: int
    span: Span = _span()

    def expand(self) -> list[str]:
        """The declared names, `house1` … `house6`, in order."""
        return [f"{self.stem}{i}" for i in range(self.first, self.last + 1)]


DeclName = Union[Name, RangeName]


@dataclass(frozen=True)
class Path:
    """A dotted reference: `alice.pv.peak`, `street_p2p.fee`, `*.battery` (`*` is a part)."""

    parts: tuple[str, ...]
    span: Span = _span()

    def __str__(self) -> str:
        """The path as written, parts joined by dots."""
        return ".".join(self.parts)


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """A unit as written after a number or list: `kW`, `EUR/kW/month`, `%`, `ct/kWh`."""

    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Number:
    """A number as written (`5`, `1e-3`, `0.25`); `value` is its float."""

    value: float
    text: str = field(default="", compare=False)  # as written, so the formatter keeps `1e-3`
    span: Span = _span()


@dataclass(frozen=True)
class Quantity:
    """A number with a unit: `5 kW`, `0.30 EUR/kWh`."""

    number: Number
    unit: Unit
    span: Span = _span()


@dataclass(frozen=True)
class String:
    """A double-quoted string; `value` is unescaped."""

    value: str  # unescaped
    span: Span = _span()


@dataclass(frozen=True)
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class DateTime:
    """`2021-06-07` or `2021-06-07T06:00` (local time of the horizon's timezone)."""

    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Ref:
    """A reference to a declared name, or a keyword value: `spot`, `sunny_street`, `p2p`, `all`.

    A dotted reference (`alice.battery`) is also a `Ref` with a multi-part path.
    """

    path: Path
    span: Span = _span()

    @property
    def name(self) -> str:
        """The reference as written: `spot`, `alice.battery`."""
        return str(self.path)


@dataclass(frozen=True)
class List:
    """`[a, b, c]`, optionally followed by a unit applying to every item: `[1, 2, 3] kW`."""

    items: tuple[Expr, ...]
    unit: Unit | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Daily:
    """`daily [v1, …] UNIT`: one day of values repeated over the horizon (local clock)."""

    values: List
    span: Span = _span()


@dataclass(frozen=True)
class ByScenario:
    """`by_scenario { sunny = <expr>; cloudy = <expr> }`: one series per scenario (the body's
    attributes, in source order; the resolver checks every scenario is named once)."""

    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class Arg:
    """A call argument, positional (`name is None`) or keyword (`column = "H5"`)."""

    name: Name | None
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """`csv("file.csv", column = "H5", unit = kW)`, `solar(63.4, 10.4)`, `standard_load("H0")`."""

    func: Name
    args: tuple[Arg, ...]
    span: Span = _span()


@dataclass(frozen=True)
class UnitValue:
    """A bare unit in argument position: `unit = kW` inside `csv(...)`."""

    unit: Unit
    span: Span = _span()


@dataclass(frozen=True)
class BinOp:
    """`left op right` with op one of `+ - * /`."""

    op: str  # "+" | "-" | "*" | "/"
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Neg:
    """`-operand`."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Paren:
    """Kept so the formatter can reproduce explicit grouping; resolve looks through it."""

    inner: Expr
    span: Span = _span()


Expr = Union[
    Number,
    Quantity,
    String,
    Bool,
    DateTime,
    Ref,
    List,
    Daily,
    ByScenario,
    Call,
    UnitValue,
    BinOp,
    Neg,
    Paren,
]


# ---------------------------------------------------------------------------------------------
# Statements inside bodies
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attribute:
    """`name = expr`."""

    name: Name
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class PairFee:
    """`alice -> bob = 0.5 ct/kWh` inside `fees { … }` (seller -> buyer)."""

    seller: Name
    buyer: Name
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class FeesTable:
    """`fees { seller -> buyer = value … }`: fees per seller and buyer."""

    entries: tuple[PairFee, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Asset:
    """`load { … }`, `pv { … }`, `wind { … }`, `battery { … }`, `flexible { … }`,
    `connection { import = …; export = … }`; `battery NAME { … }` is a shared battery."""

    kind: str  # "load" | "pv" | "wind" | "battery" | "flexible" | "connection"
    name: Name | None
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class Participant:
    """`participant NAME [from TEMPLATE] { … }`; NAME may be a range."""

    name: DeclName
    template: Name | None
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class Link:
    """`link a -- b { capacity; loss; fee }` inside `dso { … }`."""

    a: Name
    b: Name
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class Flexibility:
    """`flexibility BLOCK { limit; price }` inside `dso { … }`."""

    block: Name
    body: Body
    span: Span = _span()


Stmt = Union[Attribute, FeesTable, Asset, Participant, Link, Flexibility]


@dataclass(frozen=True)
class Body:
    """The statements between a declaration's braces, in source order."""

    items: tuple[Stmt, ...]
    span: Span = _span()


# ---------------------------------------------------------------------------------------------
# Top-level declarations
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DesignDecl:
    """`design "TITLE" { … }`: title, currency, description."""

    title: String
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class HorizonDecl:
    """`horizon { start; duration; step; timezone }`."""

    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class SeriesDecl:
    """`series NAME = EXPR`: a named time series."""

    name: Name
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class GridDecl:
    """`grid { buy; sell; … }`: the upstream grid's prices."""

    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class ScenariosDecl:
    """`scenarios { sunny = 60 %; cloudy = 40 % }` (named, with probabilities) or
    `scenarios { count = 20; seed = 7; pv_error = 30 %; … }` (generated around the forecast)."""

    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class TemplateDecl:
    """`template NAME { … }`: assets shared by participants `from` it."""

    name: Name
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class BlockDecl:
    """`block NAME { … }`: a positive energy block behind one connection."""

    name: Name
    body: Body  # attributes, participants, shared batteries (Asset kind "battery" with a name)
    span: Span = _span()


@dataclass(frozen=True)
class MarketDecl:
    """`market NAME { type; members; … }`: a local market."""

    name: Name
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class ProductDecl:
    """`product NAME { … }`: a local energy product."""

    name: Name
    body: Body
    span: Span = _span()


@dataclass(frozen=True)
class DsoDecl:
    """`dso { … }`: the distribution system operator's links and needs."""

    body: Body  # attributes, links, flexibility
    span: Span = _span()


# Variant edits ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Without:
    """`without market NAME`, `without participant NAME`, `without NAME.battery`,
    `without *.battery`, `without block NAME`, `without link a -- b`, ... `kind` is the keyword
    written before the target, or None (`without alice.battery`)."""

    kind: str | None
    target: Path
    span: Span = _span()


@dataclass(frozen=True)
class SetEdit:
    """`set market street_p2p.fee = 0.5 ct/kWh`, `set alice.pv.peak = 8 kWp`."""

    kind: str | None
    target: Path
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class VariantDecl:
    """`variant NAME { … }`: a named set of edits to the base design."""

    name: Name
    # The variant's attributes (`description = "…"`, `compare = false`) first, in source order
    # (the parser moves them there, so where they are written does not matter), then the edits,
    # applied in order; declarations written inside are additions.
    items: tuple[VariantItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Goal:
    """`pv_surplus_local >= 60 %` (hard: a constraint of the LP) or `prefer local_trade >= 10
    MWh` (ranking only). `metric` is the path written (`peak_import`, `street.peak_import`)."""

    metric: Ref
    op: str  # ">=" or "<="
    value: Expr
    prefer: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class GoalsDecl:
    """`goals { … }`: what the design must deliver (docs/tailor.md)."""

    goals: tuple[Goal, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ChoiceDecl:
    """`choice NAME { variant A { … } variant B { … } }`: a building block's alternatives;
    `pebdsl tailor` solves every combination of one option per choice."""

    name: Name
    options: tuple[VariantDecl, ...]
    span: Span = _span()


TopDecl = Union[
    DesignDecl,
    HorizonDecl,
    SeriesDecl,
    GridDecl,
    TemplateDecl,
    BlockDecl,
    Participant,
    Asset,
    MarketDecl,
    ProductDecl,
    DsoDecl,
    VariantDecl,
    GoalsDecl,
    ChoiceDecl,
    ScenariosDecl,
]
# Inside a variant, a singleton declaration (horizon, grid, dso) merges into the base one
# attribute by attribute (`variant year { horizon { duration = 365 d } }`); a named declaration
# adds a new object (or replaces one of the same name). An `Attribute` is the variant's own
# (`description`, `compare`), not an edit.
VariantItem = Union[
    Attribute,
    Without,
    SetEdit,
    SeriesDecl,
    BlockDecl,
    Participant,
    Asset,
    MarketDecl,
    ProductDecl,
    DsoDecl,
    GridDecl,
    HorizonDecl,
    TemplateDecl,
    ScenariosDecl,
]


@dataclass(frozen=True)
class Comment:
    """`# …` with its position; the formatter re-attaches comments to the nearest node."""

    text: str  # including the leading '#'
    span: Span = _span()


@dataclass(frozen=True)
class File:
    """A whole design file: its declarations, and its comments in order."""

    decls: tuple[TopDecl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()
