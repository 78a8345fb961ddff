"""Fuzzing: the parser and the formatter raise nothing but `PebdslError`, on any input.

About 11,000 inputs per run (fixed seeds; derandomized under the "ci" profile): valid designs
mutated token by token and character by character (delete, insert, duplicate, swap, replace,
truncate), random DSL-like text, random unicode and binary junk. Where a mutant still parses,
formatting it must keep its tree and be idempotent.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pebdsl.diagnostics import PebdslError
from pebdsl.front.formatter import format_source
from pebdsl.front.parser import parse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_SMALL = [
    'design "t" { currency = EUR }\nseries s = daily [1, 2, 3] kW\n',
    "participant alice from household { pv { profile = solar; peak = 6 kWp } }\n",
    'series s = csv("f.csv", column = "H5", unit = kW, missing = 0) * -1.5 + (x / 2)\n',
    "variant v { without market m; set alice.pv.peak = 8 kWp; horizon { duration = 7 d } }\n",
    "dso { link a -- b { capacity = 1 kW }\n flexibility b { limit = 2 kW } }  # c\n",
    "market m { fees { a -> b = 1 ct/kWh } }\nblock b { participant h[1..3] { } }\n",
]
SEEDS = [
    p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "designs").glob("*.peb")) + sorted((HERE / "golden").rglob("*.peb"))
] + _SMALL
# Mutating the big designs costs more per example; most mutants come from the smaller ones.
SEEDS_SMALL = [t for t in SEEDS if len(t) < 3000] or _SMALL

TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\d{4}-\d{2}-\d{2}[T\d:+\-Z.]*|[A-Za-z_][A-Za-z0-9_]*'
    r"|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|->|--|\.\.|[ \t]+|\n|.",
    re.S,
)
VOCAB = [
    "design", "horizon", "series", "grid", "template", "block", "participant", "from", "market",
    "product", "dso", "variant", "without", "set", "link", "flexibility", "fees", "load", "pv",
    "wind", "battery", "flexible", "connection", "daily", "true", "false", "unit", "{", "}", "(",
    ")", "[", "]", "=", ",", ".", "..", "->", "--", "+", "-", "*", "/", ";", "\n", " ", "#", '"',
    "\\", ":", "%", "kW", "EUR/kW/month", "5", "0.5", "1e-3", "1e999", "2021-06-07",
    "2021-13-45T99:99", "alice", "x", "\x00", "\ufeff", "\u00a0", "é", "🙂", "\r", "\t", "'",
]  # fmt: skip

settings.register_profile("fuzz", deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def mutants(draw: st.DrawFn, sources: list[str] = SEEDS_SMALL) -> str:
    tokens = TOKEN.findall(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            tokens = [draw(st.sampled_from(VOCAB))]
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(
            ("delete", "insert", "duplicate", "swap", "replace", "chars", "truncate")
        ))  # fmt: skip
        if op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(VOCAB)))
        elif op == "duplicate":
            j = draw(st.integers(i, min(len(tokens), i + 8)))
            tokens[i:i] = tokens[i:j]
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(VOCAB))
        elif op == "chars":
            tok = tokens[i]
            k = draw(st.integers(0, len(tok)))
            ins = draw(st.text(max_size=2))
            tokens[i] = tok[:k] + ins + tok[k + draw(st.integers(0, 1)) :]
        else:
            tokens = tokens[:i]
    return "".join(tokens)


def _parse_ok(text: str) -> None:
    try:
        parse(text, "fuzz.peb")
    except PebdslError as e:
        assert e.diagnostics and all(d.code.startswith("E0") for d in e.diagnostics)
        e.render()  # rendering never fails either


FUZZ = settings(settings.get_profile("fuzz"), database=None)


@seed(20240611)
@settings(FUZZ, max_examples=5000)
@given(mutants())
def test_mutated_designs(text: str) -> None:
    _parse_ok(text)


@seed(20240612)
@settings(FUZZ, max_examples=300)
@given(mutants(SEEDS))
def test_mutated_large_designs(text: str) -> None:
    _parse_ok(text)


@seed(20240613)
@settings(FUZZ, max_examples=2000)
@given(st.lists(st.sampled_from(VOCAB), max_size=40).map(" ".join))
def test_token_soup(text: str) -> None:
    _parse_ok(text)


@seed(20240614)
@settings(FUZZ, max_examples=1500)
@given(st.text(max_size=200))
def test_random_unicode(text: str) -> None:
    _parse_ok(text)


@seed(20240615)
@settings(FUZZ, max_examples=1000)
@given(st.binary(max_size=300))
def test_binary_junk(data: bytes) -> None:
    _parse_ok(data.decode("utf-8", errors="replace"))
    _parse_ok(data.decode("latin-1"))


@seed(20240616)
@settings(FUZZ, max_examples=1500)
@given(mutants())
def test_formatter_on_mutants(text: str) -> None:
    try:
        out = format_source(text, "fuzz.peb")
    except PebdslError:
        return
    assert parse(out) == parse(text)
    assert format_source(out) == out
    assert len(parse(out).comments) == len(parse(text).comments)
