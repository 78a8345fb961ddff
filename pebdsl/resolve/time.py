"""The time grid: the `horizon` declaration read into a `design.TimeGrid`.

Input: the design's `horizon` (after variant edits and `--set`), read through a `Reader`.
Output: `TimeGrid(start, step_h, n_steps, timezone)` with a timezone-aware start; the reader's
series context is set to a temporary one-step grid so time quantities can be read.
Errors: E301 no horizon or neither `duration` nor `end`, E302 `end` not after `start` or more
than `MAX_STEPS` steps, E303 a step that does not divide the horizon, E304 both `duration` and
`end`, E307 a timezone that is not a string or a start/end that is not a date or falls in a
daylight-saving gap, E311 unknown timezone, E314 a horizon outside `DATE_RANGE`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pebdsl import design as D
from pebdsl.diagnostics import PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed, Single
from pebdsl.resolve.reader import Reader
from pebdsl.resolve.series import SeriesContext, strip
from pebdsl.source import Span

__all__ = ["DATE_RANGE", "MAX_STEPS", "check_timezone", "horizon", "local_time"]

MAX_STEPS = 2_000_000  # ~ 57 years hourly: beyond this a typo, not a study
# Horizons must lie here (E314): pandas' nanosecond timestamps end on 1677-09-21 and
# 2262-04-11, and a generator's annual reference needs the whole calendar year of the start.
DATE_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


def horizon(r: Reader) -> D.TimeGrid:
    """The design's time grid (see the module docstring for its errors)."""
    single = r.required_single(
        "horizon", "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }"
    )
    a = r.attrs(single.items, "horizon")
    tz = _timezone(r, a)
    start_a = r.need(a, "start", "horizon", single.span, "2021-06-07")
    start = local_time(start_a.value, tz, "start")
    # A temporary context for time quantities (no series needed).
    r.ctx = SeriesContext(D.TimeGrid(start, 1.0, 1, tz), r.currency, r.directory, {}, {})
    step_h = 1.0
    if "step" in a:
        step_h = r.const(a["step"], "time", "step", lo=0, lo_open=True)
        if step_h * 3600 < 1 - 1e-9:
            r.range(step_h, a["step"], "step (h)", 1 / 3600, None)
    duration_h, dur_a = _duration(r, a, single, start, tz)
    ratio = duration_h / step_h
    n = round(ratio)
    if n < 1 or abs(ratio - n) > 1e-9 * max(1.0, ratio):
        r.errs.add(
            error(
                "E303",
                f"the step ({step_h:g} h) does not divide the horizon ({duration_h:g} h)",
                a["step"].value.span if "step" in a else dur_a.value.span,
                "does not divide",
                ("choose a step that divides the duration exactly",),
            )
        )
        raise Failed
    if n > MAX_STEPS:
        r.errs.add(
            error(
                "E302",
                f"{n} steps is more than the {MAX_STEPS} supported",
                dur_a.value.span,
                "too many steps",
            )
        )
        raise Failed
    supported_dates(r, start, step_h * n, start_a)
    return D.TimeGrid(start, step_h, n, tz, single.span)


def _timezone(r: Reader, a: dict[str, S.Attribute]) -> str:
    """The horizon's `timezone` (default UTC): a string (E307) naming an IANA zone (E311)."""
    if "timezone" not in a:
        return "UTC"
    v = strip(a["timezone"].value)
    if not isinstance(v, S.String):
        r.errs.add(error("E307", 'timezone must be a string, e.g. "Europe/Oslo"', v.span))
        raise Failed
    check_timezone(v.value, v.span)
    return v.value


def _duration(
    r: Reader, a: dict[str, S.Attribute], single: Single, start: datetime, tz: str
) -> tuple[float, S.Attribute]:
    """The horizon's length in hours from exactly one of `duration` and `end` (E301/E304),
    and the attribute it came from; an `end` not after `start` is E302."""
    if ("duration" in a) == ("end" in a):
        both = "duration" in a
        r.errs.add(
            error(
                "E301" if not both else "E304",
                "horizon needs exactly one of `duration` and `end`",
                single.span,
                "both given" if both else "missing `duration` or `end`",
                ("`duration = 1 d`, or `end = 2021-06-08` (exclusive)",),
            )
        )
        raise Failed
    if "duration" in a:
        dur_a = a["duration"]
        duration_h = r.const(dur_a, "time", "duration", lo=0, lo_open=True)
    else:
        dur_a = a["end"]
        end = local_time(dur_a.value, tz, "end")
        # Aware datetimes sharing one tzinfo subtract as wall-clock times: go through UTC.
        utc = UTC
        duration_h = (end.astimezone(utc) - start.astimezone(utc)).total_seconds() / 3600.0
        if duration_h <= 0:
            r.errs.add(
                error(
                    "E302",
                    "horizon `end` must be after `start`",
                    dur_a.value.span,
                    "not after start",
                )
            )
            raise Failed
    return duration_h, dur_a


def supported_dates(r: Reader, start: datetime, duration_h: float, a: S.Attribute) -> None:
    """E314 unless the horizon lies within `DATE_RANGE` (pandas' nanosecond timestamps,
    with a year to spare for the calendar year a generator's annual reference needs)."""
    lo, hi = DATE_RANGE
    try:
        first = start.astimezone(UTC)
        last = first + timedelta(hours=duration_h)
    except (OverflowError, ValueError):
        first = last = datetime.max.replace(tzinfo=UTC)
    if first < lo or last > hi:
        r.errs.add(
            error(
                "E314",
                f"the horizon ({start.isoformat()}, {duration_h:g} h) is outside the "
                f"supported dates {lo.date()} … {hi.date()}",
                a.value.span,
                "unsupported date",
                ("time series are held as nanosecond timestamps (pandas)",),
            )
        )
        raise Failed


# -- grid ---------------------------------------------------------------------------------


def check_timezone(tz: str, span: Span) -> None:
    """E311 unless `tz` names an IANA timezone (with a suggestion)."""
    import zoneinfo

    try:
        if not tz or tz.startswith(("/", ".")) or ".." in tz:
            raise ValueError(tz)
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise PebdslError(
            error(
                "E311",
                f'unknown timezone "{tz}"',
                span,
                "not a timezone",
                (
                    *did_you_mean(tz, zoneinfo.available_timezones()),
                    'use an IANA name such as "Europe/Oslo" or "UTC"',
                ),
            )
        ) from None


def local_time(e: S.Expr, tz: str, what: str) -> datetime:
    """A date or date-time as written, local to `tz` (tz-aware). A local time that does not
    exist (spring DST gap) is E307; an ambiguous one takes its first occurrence."""
    import zoneinfo

    v = strip(e)
    text = v.text if isinstance(v, S.DateTime) else v.value if isinstance(v, S.String) else None
    if text is None:
        raise PebdslError(
            error(
                "E307",
                f"{what} must be a date, e.g. 2021-06-07 or 2021-06-07T06:00",
                v.span,
                "not a date",
            )
        )
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise PebdslError(error("E307", f"invalid {what} `{text}`", v.span, "not a date")) from None
    zone = zoneinfo.ZoneInfo(tz)
    try:
        if dt.tzinfo is not None:
            return dt.astimezone(zone)
        local = dt.replace(tzinfo=zone, fold=0)
        # A nonexistent local time does not survive a round trip through UTC.
        back = local.astimezone(zoneinfo.ZoneInfo("UTC")).astimezone(zone)
    except (OverflowError, ValueError):  # year 1 or 9999 moved across a day boundary
        lo, hi = DATE_RANGE
        raise PebdslError(
            error(
                "E314",
                f"{what} {text} is outside the supported dates {lo.date()} … {hi.date()}",
                v.span,
                "unsupported date",
            )
        ) from None
    if back.replace(tzinfo=None) != dt:
        raise PebdslError(
            error(
                "E307",
                f"{what} {text} does not exist in {tz} (daylight-saving gap)",
                v.span,
                "nonexistent local time",
            )
        )
    return local
