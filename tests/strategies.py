"""Design texts for tests: a minimal valid prelude, fragment wrapping, Hypothesis strategies.

- `MINIMAL`, `wrap(fragment)`: a smallest valid design, and a fragment (a participant body line,
  a market, a series, ...) placed where it belongs in an otherwise valid design.
- `designs()`: VALID design texts using every construct (blocks, participants with load, pv,
  wind, battery, flexible, connection, templates, ranges, shared batteries with owners and
  shares, p2p/pool markets with fee, loss, pair fees, products and a rent rule, a DSO with
  charges, links and priced flexibility, variants). They are
  always FEASIBLE: connection limits are never below what a participant or block could need
  without a priced alternative (limits are sized above total load + battery power + generation),
  the horizon is 4-24 steps, and DSO flexibility always has a price (soft). Other engineers reuse
  `designs()` for model properties.
- `mutated_designs()`: those texts broken in small ways (a character dropped, a name misspelt,
  a unit swapped, a number negated, lines shuffled) for "nothing but PebdslError" properties.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

MINIMAL = """design "minimal" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 1 h; timezone = "Europe/Oslo" }
series home = daily [0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6,
                     0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 1.6, 1.5, 1.2, 0.9, 0.7, 0.5] kW
series solar = daily [0, 0, 0, 0, 0.02, 0.08, 0.2, 0.35, 0.5, 0.62, 0.7, 0.74,
                      0.74, 0.7, 0.62, 0.5, 0.35, 0.2, 0.08, 0.02, 0, 0, 0, 0]
series office_load = home * 10
series wind_office = 3 kW
grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }
"""

# A valid world for fragments: two blocks of participants named like LANGUAGE.md's examples.
WORLD = """block sunny_street {
  connection = 500 kW
  participant alice { load { profile = home }; pv { profile = solar; peak = 6 kWp } }
  participant bob { load { profile = home }; pv { profile = solar; peak = 4 kWp } }
  participant carol { load { profile = home } }
}
block sluppen { participant s1 { load { profile = home } }; participant s2 { } }
block brattora { participant b1 { load { profile = home } } }
"""


def sunny_street() -> str:
    """The complete example of LANGUAGE.md (designs/sunny_street.peb)."""
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "designs" / "sunny_street.peb").read_text()


_TOP_KEYWORDS = (
    "design",
    "horizon",
    "series",
    "grid",
    "template",
    "block",
    "participant",
    "market",
    "product",
    "dso",
    "variant",
    "battery",
    "goals",
    "choice",
)


def wrap(fragment: str) -> str:
    """A valid design holding `fragment` where it belongs.

    Top-level declarations are appended; a participant body line (asset or `connection`) goes
    into a new participant `frag`; a market body line (`members = ...`, `fee = ...`) into a
    p2p market of the street.
    """
    text = fragment.strip()
    word = re.match(r"[A-Za-z_]+", text)
    first = word.group(0) if word else ""
    if first in ("horizon", "grid"):
        # a singleton replaces the prelude's own
        prelude = (
            "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(first)) + "\n"
        )
        return prelude + WORLD + text + "\n"
    if first == "variant":
        return sunny_street() + "\n" + text + "\n"
    if first in _TOP_KEYWORDS and not re.match(r"battery\s*\{", text):
        if first == "design":
            return text + "\n" + MINIMAL.split("\n", 1)[1] + WORLD
        return MINIMAL + WORLD + text + "\n"
    if first in ("load", "pv", "wind", "battery", "flexible", "connection"):
        return MINIMAL + WORLD + f"participant frag {{\n  load {{ profile = home }}\n{text}\n}}\n"
    if first in ("members", "fee", "loss", "type", "operator", "products", "settlement", "fees"):
        body = text
        if first != "members":
            body = "members = sunny_street\n" + body
        if first != "type":
            body = "type = p2p\n" + body
        return MINIMAL + WORLD + f"market frag_market {{\n{body}\n}}\n"
    if first in ("energy_charge", "capacity_charge", "link", "flexibility", "reinforcement_cost"):
        return MINIMAL + WORLD + f"dso {{\n{text}\n}}\n"
    return MINIMAL + WORLD + text + "\n"


# ---------------------------------------------------------------------------------------------
# Valid designs
# ---------------------------------------------------------------------------------------------
_NUM = st.integers(0, 40).map(lambda i: f"{i / 4:g}")


@st.composite
def _series_list(draw: st.DrawFn, n: int, unit: str, lo: int = 0, hi: int = 20) -> str:
    vals = draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
    return "[" + ", ".join(f"{v / 10:g}" for v in vals) + "]" + (f" {unit}" if unit else "")


@st.composite
def designs(draw: st.DrawFn) -> str:
    """A valid, feasible design text exercising the whole language."""
    steps_per_day = draw(st.sampled_from([4, 6, 8, 12, 24]))
    step_h = 24 // steps_per_day
    days = 1
    n = steps_per_day * days
    tz = draw(st.sampled_from(["UTC", "Europe/Oslo", "Europe/London"]))
    currency = draw(st.sampled_from(["EUR", "NOK", "GBP"]))
    cent = {"EUR": "ct", "NOK": "ore", "GBP": "p"}[currency]
    lines = [
        f'design "generated" {{ currency = {currency} }}',
        f"horizon {{ start = 2021-06-07; duration = {days} d; step = {step_h} h; "
        f'timezone = "{tz}" }}',
    ]
    lines.append(f"series raw = daily {draw(_series_list(steps_per_day, ''))}")
    lines.append(f"series price = raw * 40 {currency}/MWh + 20 {currency}/MWh")
    lines.append(f"series shape = daily {draw(_series_list(steps_per_day, '', 1, 10))}")
    lines.append(f"series demand = {draw(_series_list(n, 'kW', 1, 30))}")
    lines.append("series breeze = demand * 0.5")
    sell = draw(st.sampled_from(["price", "none", "price * 0.5", None]))
    grid = f"grid {{ buy = price + {draw(st.integers(1, 9))} {cent}/kWh"
    grid += f"; sell = {sell} }}" if sell is not None else " }"
    lines.append(grid)
    use_template = draw(st.booleans())
    if use_template:
        lines.append("template household { load { profile = demand } }")

    def participant_body(name: str) -> str:
        parts = []
        if draw(st.booleans()) or not use_template:
            parts.append(
                draw(
                    st.sampled_from(
                        [
                            "load { profile = demand }",
                            "load { profile = shape; annual = 3 MWh }",
                            "load { profile = demand * 2 }",
                        ]
                    )
                )
            )
        if draw(st.booleans()):
            parts.append(f"pv {{ profile = shape; peak = {draw(st.integers(1, 9))} kWp }}")
        if draw(st.booleans()):
            parts.append("wind { profile = breeze }")
        if draw(st.booleans()):
            cap = draw(st.integers(2, 20))
            parts.append(
                f"battery {{ capacity = {cap} kWh; power = {draw(st.integers(1, 5))} kW; "
                f"efficiency = {draw(st.integers(80, 100))} %; "
                f"min_soc = {draw(st.integers(0, 20))} %; initial = 50 %; "
                f"final = {draw(st.sampled_from(['initial', '20 %', '1 kWh']))}; "
                f"charge_from = {draw(st.sampled_from(['any', 'local']))} }}"
            )
        if draw(st.booleans()):
            parts.append(
                f"flexible {{ share = {draw(st.integers(0, 50))} %; "
                f"window = {step_h * draw(st.integers(1, 2))} h; cost = 1 {cent}/kWh }}"
            )
        if draw(st.booleans()):
            # Sized above any possible demand (<= 3 kW x 2 + battery 5 kW + pv/wind): feasible.
            parts.append(
                draw(
                    st.sampled_from(
                        [
                            "connection = 100 kW",
                            "connection { import = 100 kW; export = 100 kW }",
                            "connection { import = 100 kW }",
                        ]
                    )
                )
            )
        tmpl = " from household" if use_template and draw(st.booleans()) else ""
        return f"participant {name}{tmpl} {{ " + "; ".join(parts) + " }"

    n_blocks = draw(st.integers(0, 3))
    blocks: list[str] = []
    participants: list[str] = []
    block_members: dict[str, list[str]] = {}
    for b in range(n_blocks):
        bname = f"blk{b}"
        blocks.append(bname)
        body = []
        if draw(st.booleans()):
            body.append("connection = 1000 kW")
        k = draw(st.integers(1, 3))
        names = []
        if draw(st.booleans()) and k > 1:
            body.append(participant_body(f"h{b}x[1..{k}]"))
            names = [f"h{b}x{i}" for i in range(1, k + 1)]
        else:
            for i in range(k):
                nm = f"p{b}_{i}"
                body.append(participant_body(nm))
                names.append(nm)
        if draw(st.booleans()):
            owners = draw(st.sampled_from(["", "first", "all"]))
            own = ""
            if owners == "first":
                own = f"; owners = {names[0]}"
            elif owners == "all":
                shares = ", ".join(f"{i + 1}" for i in range(len(names)))
                own = f"; owners = [{', '.join(names)}]; shares = [{shares}]"
            body.append(f"battery shared{b} {{ capacity = 20 kWh; power = 5 kW{own} }}")
        block_members[bname] = names
        participants += names
        lines.append(f"block {bname} {{\n  " + "\n  ".join(body) + "\n}")
    for i in range(draw(st.integers(0 if participants else 2, 3))):
        nm = f"solo{i}"
        lines.append(participant_body(nm))
        participants.append(nm)
    if draw(st.booleans()):
        own = f"; owners = [{participants[0]}]" if draw(st.booleans()) else ""
        lines.append(
            f"battery community {{ capacity = 30 kWh; power = 10 kW; efficiency = 90 %{own} }}"
        )
    products = []
    if draw(st.booleans()):
        products.append("green")
        lines.append(f"product green {{ origin = [pv, wind]; premium = 1 {cent}/kWh }}")
    markets = []
    # A DSO link joins blocks only: a market across it may not hold members outside every
    # block (E313), so with a link and such participants the city market names the blocks.
    link = len(blocks) >= 2 and draw(st.booleans())
    outside = any(p.startswith("solo") for p in participants) or "battery community" in "".join(
        lines
    )
    if len(participants) >= 2 and draw(st.booleans()):
        mtype = draw(st.sampled_from(["p2p", "pool"]))
        body = [
            f"type = {mtype}",
            f"members = [{', '.join(blocks)}]" if link and outside else "members = all",
            f"fee = {draw(st.integers(0, 3))} {cent}/kWh",
            f"loss = {draw(st.integers(0, 9))} %",
        ]
        if mtype == "p2p" and draw(st.booleans()):
            body.append(f"fees {{ {participants[0]} -> {participants[1]} = 0.5 {cent}/kWh }}")
            body.append(f"settlement = {draw(st.sampled_from(['midpoint', 'seller', 'buyer']))}")
        if products:
            body.append("products = [energy, green]")
        if draw(st.booleans()):
            body.append("operator = dso")
        if draw(st.booleans()):
            body.append(f"rent = {draw(st.sampled_from(['operator', 'members', 'dso']))}")
        markets.append("city")
        lines.append("market city {\n  " + "\n  ".join(body) + "\n}")
    for bname, names in block_members.items():
        if len(names) >= 2 and draw(st.booleans()):
            markets.append(f"{bname}_pool")
            rent = draw(st.sampled_from(["", "; rent = members", "; rent = dso"]))
            lines.append(f"market {bname}_pool {{ type = pool; members = {bname}{rent} }}")
    if draw(st.booleans()):
        dso = [f"energy_charge = {draw(st.integers(0, 6))} {cent}/kWh"]
        if draw(st.booleans()):
            dso.append(f"capacity_charge = {draw(st.integers(0, 9))} {currency}/kW/month")
        if link:
            dso.append(
                f"link {blocks[0]} -- {blocks[1]} {{ capacity = 200 kW; loss = 1 %; "
                f"fee = 1 {cent}/kWh }}"
            )
        if blocks and draw(st.booleans()):
            dso.append(f"flexibility {blocks[0]} {{ limit = 5 kW; price = 30 {cent}/kWh }}")
        if draw(st.booleans()):
            dso.append(f"reinforcement_cost = 120 {currency}/kW/year")
        lines.append("dso {\n  " + "\n  ".join(dso) + "\n}")
    if draw(st.booleans()):
        edits = []
        if markets:
            edits.append(f"without market {markets[0]}")
        edits.append("without *.battery")
        lines.append("variant reference { " + "; ".join(edits) + " }")
    if participants and draw(st.booleans()):
        lines.append(f"variant bigger {{ set {participants[0]}.connection = 200 kW }}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Broken designs
# ---------------------------------------------------------------------------------------------
_SWAPS = [
    ("kWh", "kW"),
    ("kW", "kWh"),
    ("EUR", "NOK"),
    ("ct/kWh", "ct"),
    ("%", "kW"),
    ("members", "membres"),
    ("peak", "peek"),
    ("all", "alll"),
    ("= 1", "= -1"),
    ("p2p", "p3p"),
    ("1 d", "1 h"),
    ("1 h", "7 min"),
    ("profile", "profil"),
    ("household", "houshold"),
    ("capacity", "capacty"),
    ("{", ""),
    ("}", ""),
    ("[", ""),
    ("=", "=="),
    ("1..", "3.."),
    (" h;", ";"),
    ("without", "sans"),
]


@st.composite
def mutated_designs(draw: st.DrawFn) -> str:
    """A valid design broken by one to three small edits (text level)."""
    text = draw(designs())
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["swap", "drop", "insert", "lines", "number"]))
        if how == "swap":
            a, b = draw(st.sampled_from(_SWAPS))
            if a in text:
                i = draw(st.integers(0, text.count(a) - 1))
                parts = text.split(a)
                text = a.join(parts[: i + 1]) + b + a.join(parts[i + 1 :])
        elif how == "drop" and text:
            i = draw(st.integers(0, len(text) - 1))
            j = min(len(text), i + draw(st.integers(1, 8)))
            text = text[:i] + text[j:]
        elif how == "insert":
            i = draw(st.integers(0, len(text)))
            frag = draw(
                st.sampled_from(
                    [
                        "x",
                        "0",
                        " kW",
                        ";",
                        "\n",
                        '"',
                        "[1]",
                        "1e400",
                        "participant",
                        " -",
                        "daily [1]",
                        'csv("no.csv")',
                        "ø",
                        "\x00",
                        "#",
                    ]
                )
            )
            text = text[:i] + frag + text[i:]
        elif how == "lines":
            lines = text.splitlines()
            text = "\n".join(draw(st.permutations(lines))) + "\n"
        else:
            nums = list(re.finditer(r"\d+(\.\d+)?", text))
            if nums:
                m = draw(st.sampled_from(nums))
                new = draw(st.sampled_from(["0", "-5", "1e9", "999999", "0.0001"]))
                text = text[: m.start()] + new + text[m.end() :]
    return text
