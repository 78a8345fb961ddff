"""What each attribute means, for hover and completion (from docs/language.md's reference).

Input: nothing. Output: `ATTRIBUTE_DOCS[context][name] = Doc(meaning, unit, values)`, where
`context` is the declaration or asset the attribute is written in (`battery`, `market`, …, as
in the resolver's `ATTRIBUTES`), `unit` the kind of quantity expected with its canonical unit
(empty for words, names and strings), `values` the words the attribute takes (completion after
`=`). tests/test_lsp_index.py checks that the contexts and names are exactly the resolver's,
so an attribute added to the language without a line here fails a test. Raises nothing.
"""

from __future__ import annotations

from typing import NamedTuple

from pebdsl.lsp.adapter import ASSETS

__all__ = ["ATTRIBUTE_DOCS", "NESTED", "Doc"]


class Doc(NamedTuple):
    meaning: str
    unit: str = ""
    values: tuple[str, ...] = ()


_PROFILE = "the power profile: a series name, a quantity or an expression"
_CONN = "connection limit to the grid, both ways (or `connection { import = …; export = … }`)"

ATTRIBUTE_DOCS: dict[str, dict[str, Doc]] = {
    "design": {
        "currency": Doc("the design's one currency (default EUR)", "", ("EUR", "NOK", "GBP")),
        "description": Doc("free text shown in reports"),
        "reference": Doc("the variant that is the no-trade reference"),
    },
    "horizon": {
        "start": Doc("first step, local time of `timezone` (a date or date-time)"),
        "duration": Doc("length of the horizon (or `end`; exactly one of them)", "time (h)"),
        "end": Doc("end of the horizon, exclusive (or `duration`)"),
        "step": Doc("length of one time step; must divide the duration (default 1 h)", "time (h)"),
        "timezone": Doc('IANA time zone name, e.g. "Europe/Oslo" (default "UTC")'),
    },
    "grid": {
        "buy": Doc("price paid per kWh taken from the upstream grid (required)", "price (/kWh)"),
        "sell": Doc(
            "price earned per kWh fed in (default 0; `none` forbids feed-in)",
            "price (/kWh)",
            ("none",),
        ),
    },
    "load": {
        "profile": Doc(_PROFILE + " (kW, or a shape scaled by `annual`)", "power (kW)"),
        "annual": Doc("energy per year the profile is scaled to", "energy (kWh)"),
    },
    "pv": {
        "profile": Doc("generation per kWp (bare number) with `peak`, else in kW", "power (kW)"),
        "peak": Doc("installed peak power, or `invest(...)`: sized by the model", "power (kW)"),
    },
    "wind": {
        "profile": Doc("generation per kWp (bare number) with `peak`, else in kW", "power (kW)"),
        "peak": Doc("installed peak power, or `invest(...)`: sized by the model", "power (kW)"),
    },
    "battery": {
        "capacity": Doc("usable storage capacity, ≥ 0 (required)", "energy (kWh)"),
        "power": Doc("charge and discharge power, ≥ 0 (required)", "power (kW)"),
        "efficiency": Doc(
            "one-way efficiency, on charge and on discharge (default 100 %)", "share"
        ),
        "min_soc": Doc("lowest state of charge (default 0 %)", "share of capacity or energy (kWh)"),
        "initial": Doc("state of charge at the start (default 0 %)", "share or energy (kWh)"),
        "final": Doc(
            "state of charge at the end (default unconstrained)",
            "share, energy (kWh) or `initial`",
            ("initial",),
        ),
        "charge_from": Doc("`local`: only local energy, never grid energy", "", ("any", "local")),
        "throughput_cost": Doc("cost per kWh discharged (default 0)", "price (/kWh)"),
        "owners": Doc("participants who get a shared battery's earnings (default: its block's)"),
        "shares": Doc("each owner's share of the earnings (default equal)", "share"),
    },
    "flexible": {
        "share": Doc("share of the load that may move in time, in [0, 1] (required)", "share"),
        "window": Doc("window the load moves within, local clock from midnight", "time (h)"),
        "cost": Doc("cost per kWh moved (default 0)", "price (/kWh)"),
    },
    "connection": {
        "import": Doc("import limit (default unlimited)", "power (kW)"),
        "export": Doc("export limit (default unlimited)", "power (kW)"),
    },
    "participant": {"connection": Doc("the participant's " + _CONN, "power (kW)")},
    "template": {"connection": Doc("the participants' " + _CONN, "power (kW)")},
    "block": {"connection": Doc("the block's net exchange limit, " + _CONN, "power (kW)")},
    "market": {
        "type": Doc("p2p: bilateral trades; pool: one price per step", "", ("p2p", "pool")),
        "members": Doc("participants, block names, or `all`", "", ("all",)),
        "fee": Doc("fee per kWh received, paid by the buyer (default 0)", "price (/kWh)"),
        "loss": Doc("share lost in transit, in [0, 1) (default 0)", "share"),
        "operator": Doc("who runs the market and collects its fees", "", ("community", "dso")),
        "products": Doc("products traded: energy, flexibility or declared ones", "", ("energy",)),
        "settlement": Doc(
            "price of a p2p trade (default midpoint)", "", ("midpoint", "seller", "buyer")
        ),
        "rent": Doc("who gets the market's surplus", "", ("operator", "members", "dso")),
    },
    "product": {
        "origin": Doc("energy origins that may be sold as this product", "", ("pv", "wind")),
        "premium": Doc("the buyer's valuation per kWh (default 0)", "price (/kWh)"),
    },
    "dso": {
        "energy_charge": Doc("network charge per kWh each meter withdraws", "price (/kWh)"),
        "capacity_charge": Doc(
            "charge per kW of each meter's monthly peak withdrawal", "price (/kW/month)"
        ),
        "capacity_basis": Doc("whose peak is charged", "", ("participant", "block")),
        "charge_on": Doc("what grid charges are levied on", "", ("meter", "purchase")),
        "reinforcement_cost": Doc("cost of grid reinforcement per kW", "price (/kW/year)"),
    },
    "link": {
        "capacity": Doc("link capacity (default unlimited)", "power (kW)"),
        "loss": Doc("share lost over the link, in [0, 1)", "share"),
        "fee": Doc("fee per kWh over the link", "price (/kWh)"),
    },
    "flexibility": {
        "limit": Doc("the block's import limit the DSO asks for", "power (kW)"),
        "price": Doc(
            "price paid per kWh of flexibility (without it: a hard limit)", "price (/kWh)"
        ),
    },
    "variant": {
        "description": Doc("what the variant is (shown by compare and the report)"),
        "compare": Doc("false: `pebdsl compare` leaves it out unless named", "", ("true", "false")),
        "reference": Doc(
            "the variant this one's savings are measured against (else the design's reference)"
        ),
    },
}

# A participant's own tariff (docs/language.md, customer classes; usually set in a template).
_TARIFF = {
    "class": Doc("customer class label, e.g. household or business (selects no tariff by itself)"),
    "vat": Doc("VAT on what the participant pays the supplier, the DSO and operators", "ratio (%)"),
    "energy_charge": Doc("its own DSO energy charge, replacing the DSO's", "price (/kWh)"),
    "capacity_charge": Doc(
        "its own capacity charge per kW of its monthly measure", "price (/kW/month)"
    ),
    "capacity_peak": Doc(
        "what the capacity charge measures: the hour's peak or the top-3 daily peaks",
        "",
        ("hour", "top3_days"),
    ),
    "capacity_steps": Doc("upper bounds of the stepped capacity tariff's steps", "power (kW)"),
    "capacity_step_prices": Doc("monthly price of each step", "money per time (/month)"),
}
ATTRIBUTE_DOCS["participant"].update(_TARIFF)
ATTRIBUTE_DOCS["template"].update(_TARIFF)
ATTRIBUTE_DOCS["battery"].update(
    available=Doc("share of the battery present in each step (e.g. V2G cars plugged in)", "ratio"),
    arrival_soc=Doc("state of charge of the capacity that arrives", "ratio (%)"),
    departure_soc=Doc("state of charge of the capacity that leaves", "ratio (%)"),
    stage=Doc("1: the schedule is committed day-ahead; 2 (default): per scenario", "", ("1", "2")),
)
ATTRIBUTE_DOCS["grid"]["bidder"] = Doc(
    "who bids day-ahead in a staged grid", "", ("participant", "block", "community")
)
ATTRIBUTE_DOCS["market"]["charge_on"] = Doc(
    "purchase: the market's trades stay out of the charged meters (an exempt market)",
    "",
    ("meter", "purchase"),
)
for _stage in ("day_ahead", "intraday"):
    ATTRIBUTE_DOCS[_stage] = {
        "buy": Doc(f"{_stage} purchase price", "price (/kWh)"),
        "sell": Doc(f"{_stage} sale price", "price (/kWh)"),
    }

# Declarations a body may hold (completion offers them with the attributes).
_ASSETS = tuple(ASSETS)
_TOP = (
    "design", "horizon", "series", "grid", "template", "block", "participant", "market",
    "product", "dso", "variant", "battery",
)  # fmt: skip
NESTED: dict[str, tuple[str, ...]] = {
    "": _TOP,
    "participant": _ASSETS,
    "template": _ASSETS,
    "block": ("participant", "battery", "connection"),
    "dso": ("link", "flexibility"),
    "market": ("fees",),
    "variant": ("without", "set", *_TOP[1:]),
}
