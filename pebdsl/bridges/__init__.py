"""Bridges: a design written as another tool's model (`pebdsl export FILE --to TOOL`).

`pypsa.py` builds the physical part of a design as a PyPSA network (docs/pypsa.md). Bridges
read the resolved `Design` and sit in its layer, so `Design.to_pypsa()` can call them; the
other tool is an optional extra, imported only when a bridge runs.
"""
