"""The time grid of a design: steps of exact length from a timezone-aware start.

Input: the horizon's start, step, step count and timezone (resolve/heading.py builds it).
Output: a frozen `TimeGrid` with step length, local index, UTC seconds, local seconds of day
and window numbering (flexible load, the PyPSA bridge). Raises nothing.
Kept apart from pebdsl/design.py (which re-exports it) so each stays a readable size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pebdsl.source import NO_SPAN, Span

if TYPE_CHECKING:
    import pandas as pd


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TimeGrid:
    """Steps of exact length `step_h` from `start` (tz-aware, in `timezone`); `n_steps` of them.

    Steps are exact durations: on a daylight-saving day the local day has 23 or 25 hourly steps.
    """

    start: datetime
    step_h: float
    n_steps: int
    timezone: str = "UTC"
    span: Span = _span()

    @property
    def dt_h(self) -> float:
        return self.step_h

    @property
    def index(self) -> pd.DatetimeIndex:
        """Start of each step, tz-aware in the horizon's timezone."""
        import pandas as pd  # here, not at the top: `pebdsl check` needs no pandas

        start = pd.Timestamp(self.start)
        if start.tzinfo is None:
            start = start.tz_localize(self.timezone)
        utc = pd.date_range(
            start.tz_convert("UTC"), periods=self.n_steps, freq=pd.Timedelta(hours=self.step_h)
        )
        return utc.tz_convert(self.timezone)

    @property
    def duration_h(self) -> float:
        return self.step_h * self.n_steps

    def _aware_start(self) -> datetime:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.timezone)
        return self.start.replace(tzinfo=zone) if self.start.tzinfo is None else self.start

    def utc_ns(self) -> npt.NDArray[np.int64]:
        """Start of each step as UTC nanoseconds since the epoch (what `index` holds, built
        without pandas: steps are exact durations, so UTC is a plain arithmetic sequence)."""
        start = self._aware_start()
        # Integer microseconds of the start, then exact integer steps: no float rounding.
        t0_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        step_ns = round(self.step_h * 3_600_000_000_000)
        return t0_us * 1000 + np.arange(self.n_steps, dtype=np.int64) * step_ns

    def local_time(self, step: int) -> datetime:
        """The start of step `step` as an aware datetime in the horizon's timezone."""
        from zoneinfo import ZoneInfo

        ns = int(self.utc_ns()[step]) if self.n_steps else 0
        utc = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
        return utc.astimezone(ZoneInfo(self.timezone))

    def windows(self, window_h: float) -> npt.NDArray[np.int64]:
        """The window (numbered 0, 1, … in order) of each step for windows of `window_h` hours
        on the local clock, counted from local midnight of the first day: `4 h` gives 00–04,
        04–08, …, `24 h` the calendar day; a horizon starting mid-window begins with a partial
        one, and a repeated daylight-saving hour stays in its window (flexible load)."""
        import pandas as pd

        wall = self.index.tz_localize(None)  # local wall-clock time of each step's start
        hours = np.asarray((wall - wall[0].normalize()) / pd.Timedelta(hours=1), dtype=np.float64)
        raw = np.floor(hours / window_h + 1e-9).astype(np.int64)
        out: npt.NDArray[np.int64] = np.unique(raw, return_inverse=True)[1]
        return out

    def local_seconds_of_day(self) -> npt.NDArray[np.int64]:
        """Local clock time of each step's start, in seconds after local midnight.

        Offsets from zoneinfo, looked up once per distinct UTC offset period: the offset can
        only change at a transition, so steps between two equal probes share it."""
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.timezone)
        utc_s = self.utc_ns() // 1_000_000_000
        epoch = datetime(1970, 1, 1, tzinfo=UTC)

        def offset(s: int) -> int:
            local = (epoch + timedelta(seconds=s)).astimezone(zone)
            off = local.utcoffset()
            return 0 if off is None else int(off.total_seconds())

        offsets = np.empty(len(utc_s), dtype=np.int64)
        _fill_offsets(utc_s, offsets, 0, len(utc_s), offset)
        return (utc_s + offsets) % 86400


def _fill_offsets(
    utc_s: npt.NDArray[np.int64], out: npt.NDArray[np.int64], lo: int, hi: int, offset: Any
) -> None:
    """out[lo:hi] = offset(utc_s[i]); bisects, so a year of steps costs about two lookups per
    day instead of one per step. Equal offsets at both ends of a stretch under a day long mean
    no transition inside it (zones change their offset at most twice a year, never twice
    within a day)."""
    if lo >= hi:
        return
    a, b = offset(int(utc_s[lo])), offset(int(utc_s[hi - 1]))
    if a == b and utc_s[hi - 1] - utc_s[lo] <= 86400:
        out[lo:hi] = a
        return
    if hi - lo <= 2:
        out[lo], out[hi - 1] = a, b
        return
    mid = (lo + hi) // 2
    _fill_offsets(utc_s, out, lo, mid, offset)
    _fill_offsets(utc_s, out, mid, hi, offset)
