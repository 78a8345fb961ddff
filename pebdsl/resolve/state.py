"""The state the resolve passes of one design share, filled pass by pass.

Input: the parsed file, its source, the chosen variant and `--set` texts, a copy of the base
`Model` (collected once per file by `namespace.collect`). Output: the parts each pass builds
(`time`, `grid`, `participants`, …) and finally `design`, the validated `design.Design`.
Raises nothing itself; the passes record errors on `errs` and raise them at set points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pebdsl import design as D
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Errors, Model
from pebdsl.resolve.reader import Reader
from pebdsl.resolve.scenarios import Spec
from pebdsl.source import NO_SPAN, SourceFile, Span

__all__ = ["State"]


@dataclass
class State:
    """One design in the making: inputs first, then one field (or a few) per pass."""

    file: S.File
    source: SourceFile
    variant: str | None
    sets: list[str]
    model: Model  # a copy of the file's base model; the variant's edits apply to it
    errs: Errors
    allow_outside: bool
    file_series_used: Callable[[], set[str]]  # the series the file uses (W105), cached per file
    reader: Reader = field(init=False)
    base_dir: Path | None = None  # where relative data paths start (None: the file's folder)
    data: Mapping[str, Any] = field(default_factory=dict)  # `data("name")` series, from Python
    # edits
    variant_attrs: list[S.Attribute] = field(default_factory=list)
    variant_span: Span = NO_SPAN
    series_used: set[str] = field(default_factory=set)
    # heading
    design_span: Span = NO_SPAN
    design_attrs: dict[str, S.Attribute] = field(default_factory=dict)
    description: str = ""
    variant_description: str = ""
    in_compare: bool = True
    # scenarios: the declared or generated scenarios; `scenario` the one this state resolves
    # (None: the design itself, whose scenario-valued series are probability-weighted means)
    scenarios: Spec | None = None
    scenario: str | None = None
    # horizon, series
    time: D.TimeGrid | None = None
    series_decls: dict[str, S.SeriesDecl] = field(default_factory=dict)
    # builders per concept
    grid: D.Grid | None = None
    participants: dict[str, D.Participant] = field(default_factory=dict)
    batteries: dict[str, D.Battery] = field(default_factory=dict)  # shared batteries
    blocks: dict[str, D.Block] = field(default_factory=dict)
    products: dict[str, D.Product] = field(default_factory=dict)
    markets: dict[str, D.Market] = field(default_factory=dict)
    dso: D.Dso = field(default_factory=D.Dso)
    goals: tuple[D.Goal, ...] = ()
    reference: str | None = None
    # assemble, checks, lint
    design: D.Design | None = None

    def __post_init__(self) -> None:
        directory = Path(self.source.path).parent if self.source.path else Path(".")
        if self.base_dir is not None:
            directory = self.base_dir
        self.reader = Reader(self.model, self.errs, directory)

    @property
    def directory(self) -> Path:
        """The design file's folder (relative `csv()` paths start here)."""
        return self.reader.directory
