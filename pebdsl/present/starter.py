"""`pebdsl new NAME`: the text of a commented starter design.

Input: the design's title (the file name's stem). Output: `starter(title, file) -> str`, a complete
design (one block of three households, PV, a battery, a peer-to-peer market, a network tariff
and a variant without the market) whose comments say what each line does and where to read on.
It checks clean and solves (tests/test_cli_conventions.py). `write_starter(name)` writes it to
NAME.peb (`.peb` added when missing). The title is written as a string with `"` and `\\`
escaped and control characters dropped, so any file name makes a valid design.
Raises (write_starter): PebdslError E904 when the file exists (never overwritten, also when
another process creates it meanwhile); OSError when the OS refuses the write.
"""

from __future__ import annotations

from pathlib import Path

from pebdsl.diagnostics import PebdslError, error

_TEMPLATE = """\
# {title}: a starter design written by `pebdsl new`.
# Check it: pebdsl check {file}      Solve it: pebdsl solve {file} --out out/{stem}
# The language: docs/language.md; the model behind it: docs/model.md; codes: docs/errors.md.

design "{quoted}" {{
  currency = EUR
}}

horizon {{
  start    = 2021-06-07        # local time of the timezone below
  duration = 1 d               # or `end = 2021-06-14`
  step     = 1 h               # must divide a day for `daily` series
  timezone = "Europe/Oslo"
}}

# Series: one value per step, repeated every day with `daily` (or csv("file.csv", column = ...)
# for measured data, or a generator such as solar(latitude = 63.4, longitude = 10.4)).
series spot  = daily [40, 38, 37, 36, 37, 42, 55, 70, 75, 68, 60, 55,
                      50, 48, 47, 50, 58, 72, 85, 80, 70, 60, 50, 45] EUR/MWh
series solar = daily [0, 0, 0, 0, 0.02, 0.08, 0.2, 0.35, 0.5, 0.62, 0.7, 0.74,
                      0.74, 0.7, 0.62, 0.5, 0.35, 0.2, 0.08, 0.02, 0, 0, 0, 0]   # kW per kWp
series home  = daily [0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6,
                      0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 1.6, 1.5, 1.2, 0.9, 0.7, 0.5] kW

# The upstream supplier: what a kWh from the grid costs and what a kWh fed in earns.
grid {{
  buy  = spot + 5 ct/kWh
  sell = spot                  # `sell = none` forbids feeding in
}}

# A template holds what several participants share; `from household` copies it.
template household {{
  load {{ profile = home }}
}}

# A block: participants behind one connection to the grid above.
block street {{
  connection = 50 kW           # limit on the block's net exchange, both ways

  participant alice from household {{
    pv      {{ profile = solar; peak = 6 kWp }}
    battery {{ capacity = 10 kWh; power = 5 kW; efficiency = 95 % }}
  }}
  participant bob from household {{
    pv {{ profile = solar; peak = 4 kWp }}
  }}
  participant carol from household {{ }}
}}

# A local market: the members trade with each other before the grid.
market street_p2p {{
  type    = p2p                # bilateral trades; `pool` clears one local price per step
  members = street             # a block, a list of participants, or `all`
  fee     = 1 ct/kWh           # paid by the buyer per kWh received
}}

# The network operator's tariff.
dso {{
  energy_charge = 4 ct/kWh     # per kWh each meter withdraws
}}

# A variant: the same design with edits; `pebdsl compare {file}` solves both side by side.
variant no_trade {{
  without market street_p2p
}}
"""


def starter(title: str, file: str) -> str:
    """The starter design titled `title`, whose comments name it as `file` in commands."""
    clean = "".join(ch for ch in title if ch.isprintable())
    quoted = clean.replace("\\", "\\\\").replace('"', '\\"')
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in clean) or "design"
    one_line = "".join(ch for ch in file if ch.isprintable())
    return _TEMPLATE.format(title=clean or "design", quoted=quoted, file=one_line, stem=stem)


def write_starter(name: Path) -> Path:
    """Write the starter design to NAME.peb (see the module docstring); returns the path."""
    path = name if name.suffix == ".peb" else name.with_name(name.name + ".peb")
    refused = PebdslError(
        error(
            "E904",
            f"`{path}` already exists",
            hints=("pebdsl new never overwrites; choose another name or remove it",),
        )
    )
    if path.exists() or path.is_symlink():
        raise refused
    text = starter(path.stem, str(path))
    try:
        # "x": created here or refused, even if another process made it since the check above.
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise refused from None
    return path
