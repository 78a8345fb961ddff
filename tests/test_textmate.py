"""The TextMate grammar of editors/vscode/ (also usable by GitHub Linguist): its regexes tokenize
the shipped designs with the scopes the issue names (keywords, units, comments, strings, numbers
with units) and mark nothing invalid; the VS Code manifest points at it.

The tokenizer below is TextMate's algorithm, small: line by line, at each position the pattern
whose match starts first wins (ties: the first listed); a `begin`/`end` rule (strings) opens a
region that its `end` closes. The patterns stay in the regex subset Python's `re` shares with
Oniguruma (no possessive quantifiers, no \\h, no \\G), which this test also enforces by compiling
them with `re`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "peb.tmLanguage.json").read_text(encoding="utf-8"))
DESIGNS = sorted((ROOT / "designs").glob("*.peb"))

Token = tuple[str, str]  # (text, scope)


def _flatten(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rules:
        if "include" in r:
            out += _flatten([GRAMMAR["repository"][r["include"].lstrip("#")]])
        elif "match" in r or "begin" in r:
            out.append(r)
        else:
            out += _flatten(r["patterns"])
    return out


RULES = _flatten(GRAMMAR["patterns"])


def _emit(m: re.Match[str], rule: dict[str, Any], key: str, out: list[Token]) -> None:
    caps = rule.get(key, {})
    if not caps or "0" in caps:
        scope = caps.get("0", {}).get("name") or rule.get("name", "")
        if m.group(0):
            out.append((m.group(0), scope))
        return
    pos = m.start()
    for i in range(1, (m.re.groups or 0) + 1):
        if m.group(i) is None:
            continue
        if m.start(i) > pos:
            out.append((m.string[pos : m.start(i)], ""))
        out.append((m.group(i), caps.get(str(i), {}).get("name", "")))
        pos = m.end(i)
    if m.end() > pos:
        out.append((m.string[pos : m.end()], ""))


def tokenize(text: str) -> list[Token]:
    """(text, scope) pieces of `text`; scope "" for plain whitespace and gaps."""
    out: list[Token] = []
    compiled = [(re.compile(r.get("match") or r["begin"]), r) for r in RULES]
    for line in text.splitlines():
        pos = 0
        region: dict[str, Any] | None = None
        while pos < len(line) or region is not None:
            if region is not None:  # inside a string: its escapes, or its end
                inner = [(re.compile(p["match"]), p) for p in region["patterns"]]
                end = re.compile(region["end"]).search(line, pos)
                best = min(
                    (
                        (m.start(), i, m, p)
                        for i, (rx, p) in enumerate(inner)
                        if (m := rx.search(line, pos)) and (end is None or m.start() < end.start())
                    ),
                    default=None,
                    key=lambda t: (t[0], t[1]),
                )
                if best is not None:
                    _, _, m, p = best
                    if m.start() > pos:
                        out.append((line[pos : m.start()], region["name"]))
                    out.append((m.group(0), p["name"]))
                    pos = m.end()
                    continue
                assert end is not None  # `"|$` always matches
                if end.start() > pos:
                    out.append((line[pos : end.start()], region["name"]))
                _emit(end, region, "endCaptures", out)
                pos, region = end.end(), None
                continue
            found = [
                (m.start(), i, m, r)
                for i, (rx, r) in enumerate(compiled)
                if (m := rx.search(line, pos)) is not None
            ]
            if not found:
                out.append((line[pos:], ""))
                break
            start, _, m, rule = min(found, key=lambda t: (t[0], t[1]))
            if start > pos:
                out.append((line[pos:start], ""))
            if "begin" in rule:
                _emit(m, rule, "beginCaptures", out)
                region = rule
            else:
                _emit(m, rule, "captures", out)
            pos = max(m.end(), pos + 1) if not m.group(0) else m.end()
    return out


def scopes(text: str, piece: str) -> set[str]:
    return {s for t, s in tokenize(text) if t == piece}


def test_patterns_are_in_the_common_regex_subset() -> None:
    for rule in RULES:
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])
                assert not re.search(r"\\[hGAzZ]|\(\?[<]?[a-zA-Z]|\+\+|\*\+", rule[key]), rule[key]


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.name)
def test_shipped_designs_tokenize_without_invalid(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    toks = tokenize(text)
    assert [t for t in toks if "invalid" in t[1]] == []
    # Everything outside whitespace has a scope.
    assert [t for t in toks if not t[1] and t[0].strip()] == []
    # Lossless per line.
    assert "".join(t for t, _ in toks) == "".join(text.splitlines())


def test_scopes_on_sunny_street() -> None:
    """Keywords, units, comments, strings, numbers with units, on the example design."""
    text = (ROOT / "designs" / "sunny_street.peb").read_text(encoding="utf-8")
    toks = tokenize(text)
    by_scope: dict[str, set[str]] = {}
    for t, s in toks:
        by_scope.setdefault(s, set()).add(t)
    assert {"design", "horizon", "grid", "participant", "market"} <= by_scope["storage.type.peb"]
    assert {"load", "pv", "battery"} <= by_scope["keyword.other.asset.peb"]
    assert {"kW", "ct/kWh", "EUR/MWh"} <= by_scope["keyword.other.unit.peb"]
    assert any(t.startswith("#") for t in by_scope["comment.line.number-sign.peb"])
    assert by_scope["string.quoted.double.peb"]
    # A number with its unit: `5` then `ct/kWh` (grid.buy = spot + 5 ct/kWh).
    pairs = list(zip(toks, toks[1:], toks[2:], strict=False))
    assert any(
        a == ("5", "constant.numeric.peb") and c == ("ct/kWh", "keyword.other.unit.peb")
        for a, _, c in pairs
    )


def test_scopes_on_a_snippet() -> None:
    text = (
        'design "A \\"quoted\\" title" { currency = EUR }  # trailing comment\n'
        "horizon { start = 2021-06-07T06:00; duration = 7 d }\n"
        "series s = [1, 2] kW\n"
        'series c = csv("f.csv", unit = kWh) * 95 %\n'
        "participant house[1..6] from t { battery { capacity = 1.5e1 kWh } }\n"
        "variant v { set alice.pv.peak = 8 kWp; without market m }\n"
    )
    assert scopes(text, "# trailing comment") == {"comment.line.number-sign.peb"}
    assert scopes(text, '\\"') == {"constant.character.escape.peb"}
    assert scopes(text, "2021-06-07T06:00") == {"constant.other.datetime.peb"}
    assert scopes(text, "1.5e1") == {"constant.numeric.peb"}
    assert scopes(text, "kWh") == {"keyword.other.unit.peb"}  # after a number and `unit =`
    assert scopes(text, "kW") == {"keyword.other.unit.peb"}  # after `]`
    assert scopes(text, "%") == {"keyword.other.unit.peb"}
    assert scopes(text, "house") == {"entity.name.type.peb"}
    assert scopes(text, "pv") == {"variable.other.member.peb"}  # a path part, not the asset
    assert scopes(text, "battery") == {"keyword.other.asset.peb"}
    assert scopes(text, "from") == {"keyword.other.peb"}
    assert scopes(text, "capacity") == {"variable.other.property.peb"}
    assert scopes(text, "csv") == {"entity.name.function.peb"}
    assert scopes(text, "..") == {"keyword.operator.peb"}
    # A string ends at its line, as in the grammar (E003 there): the next line is not a string.
    toks = tokenize('x = "unterminated\ny = 1\n')
    assert ("unterminated", "string.quoted.double.peb") in toks
    assert ("y", "variable.other.property.peb") in toks


def test_vscode_manifest() -> None:
    pkg = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (lang,) = pkg["contributes"]["languages"]
    assert lang["id"] == "peb" and lang["extensions"] == [".peb"]
    (gram,) = pkg["contributes"]["grammars"]
    assert gram["scopeName"] == GRAMMAR["scopeName"] == "source.peb"
    assert (VSCODE / gram["path"]).is_file()
    conf = json.loads((VSCODE / lang["configuration"]).read_text(encoding="utf-8"))
    assert conf["comments"]["lineComment"] == "#"
    assert ["{", "}"] in conf["brackets"]
    assert {"open": "{", "close": "}"} in conf["autoClosingPairs"]
