"""Spans of time as rules write them: "10m", Elastic date math "now-9m", and {value, unit} objects.

A rule's windows are spans, so date math here means "a span before now". Months and years have no
fixed length and are refused in spans; `resolve_time` turns full date math (with calendar units
and rounding) or an ISO time into an instant, for command-line options such as `--since`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from trailhound.errors import TrailhoundError

# Elastic's date-math units with a fixed length ("H" is Elastic's spelling of hours too).
_FIXED_UNITS: Mapping[str, timedelta] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "H": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_CALENDAR_UNITS = frozenset({"M", "y"})
# Units written by `format_duration`, largest first.
_WRITE_UNITS: tuple[tuple[str, int], ...] = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
# Elastic's alert_suppression.duration units.
_OBJECT_UNITS: Mapping[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_DURATION = re.compile(r"(\d+)([a-zA-Z]+)")
_MATH_STEP = re.compile(r"([+-])(\d+)([a-zA-Z])")
_ROUNDING = re.compile(r"/([a-zA-Z])")


def parse_duration(text: str) -> timedelta:
    """A positive span such as "30s", "10m", "72h", "14d" or "2w"."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise TrailhoundError(f"{text!r} is not a duration; write a number and a unit, e.g. 10m")
    amount, unit = int(match[1]), match[2]
    span = _unit_span(unit, text) * amount
    if span <= timedelta(0):
        raise TrailhoundError(f"duration {text!r} must be longer than zero")
    return span


def parse_date_math(text: str) -> timedelta:
    """The span before now that Elastic date math such as "now-9m" names (here 9 minutes)."""
    expr = text.strip()
    if not expr.startswith("now"):
        raise TrailhoundError(f"{text!r} is not relative date math; write it like now-14d")
    if _ROUNDING.search(expr):
        raise TrailhoundError(f"{text!r}: rounding (/d) makes the span vary; leave it out here")
    offset = timedelta(0)
    for sign, amount, unit in _math_steps(expr[3:], text):
        step = _unit_span(unit, text) * int(amount)
        offset += step if sign == "+" else -step
    if offset >= timedelta(0):
        raise TrailhoundError(f"{text!r} must point before now, e.g. now-9m")
    return -offset


def parse_duration_object(value: Mapping[str, Any]) -> timedelta:
    """Elastic's {value = 5, unit = "m"} form, as in alert_suppression.duration."""
    amount, unit = value.get("value"), value.get("unit")
    extra = set(value) - {"value", "unit"}
    if extra:
        raise TrailhoundError(f"unexpected key(s) {', '.join(sorted(extra))} in a duration")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        raise TrailhoundError(f"duration value must be a whole number >= 1, not {amount!r}")
    if not isinstance(unit, str) or unit not in _OBJECT_UNITS:
        raise TrailhoundError(f"duration unit must be one of s, m, h, d, not {unit!r}")
    return timedelta(seconds=amount * _OBJECT_UNITS[unit])


def format_duration(span: timedelta) -> str:
    """The shortest text `parse_duration` reads back as `span` ("90m" stays "90m", 2h is "2h")."""
    amount, unit = _whole_units(span)
    return f"{amount}{unit}"


def format_date_math(span: timedelta) -> str:
    """Date math for `span` before now: 9 minutes is "now-9m"."""
    return f"now-{format_duration(span)}"


def format_duration_object(span: timedelta) -> dict[str, Any]:
    """Elastic's {value, unit} form, in the largest unit Elastic accepts (s, m, h)."""
    seconds = _whole_seconds(span)
    for unit in ("h", "m", "s"):
        size = _OBJECT_UNITS[unit]
        if seconds % size == 0:
            return {"value": seconds // size, "unit": unit}
    raise AssertionError("unreachable: every whole second divides by 1")


def resolve_time(text: str, *, now: datetime) -> datetime:
    """An instant from Elastic date math ("now-14d", "now/d", "now-1M") or an ISO 8601 time.

    A time without an offset is taken as UTC, as CloudTrail's times are.
    """
    expr = text.strip()
    if expr.startswith("now"):
        return _resolve_math(expr[3:], now, text)
    try:
        moment = datetime.fromisoformat(expr.replace("Z", "+00:00"))
    except ValueError:
        raise TrailhoundError(f"{text!r} is neither date math (now-14d) nor an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_span(text: str, *, now: datetime) -> tuple[datetime, datetime | None]:
    """The instants a date in a rule's range names: (first instant, first instant after) when
    it names a span, that is date math rounded to a unit ("now-1d/d", "now/M") or a day written
    without a time ("2024-01-02"); (the instant, None) when it names one instant.

    Elasticsearch's range query rounds such a date down for `gte` and `lt` and up (to the last
    millisecond of the span) for `gt` and `lte`, so a bound takes in or leaves out the whole
    span; a date's missing time is filled in the same way.
    """
    expr = text.strip()
    if expr.startswith("now"):
        body, slash, unit = expr[3:].partition("/")
        if not slash:
            return _resolve_math(body, now, text), None
        start = _resolve_math(expr[3:], now, text)
        return start, _next(start, unit)
    moment = resolve_time(text, now=now)
    if _DATE_ONLY.fullmatch(expr):
        return moment, moment + timedelta(days=1)
    return moment, None


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _next(start: datetime, unit: str) -> datetime:
    """The first instant after the span of `unit` that begins at `start` (already rounded)."""
    if unit in _CALENDAR_UNITS:
        return _add_calendar(start, 1, unit)
    return start + _FIXED_UNITS[unit]


def _unit_span(unit: str, text: str) -> timedelta:
    if unit in _FIXED_UNITS:
        return _FIXED_UNITS[unit]
    if unit in _CALENDAR_UNITS:
        raise TrailhoundError(f"{text!r}: months and years vary in length; use days or weeks")
    raise TrailhoundError(f"{text!r}: unknown unit {unit!r}; use s, m, h, d or w")


def _math_steps(expr: str, text: str) -> list[tuple[str, str, str]]:
    steps: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(expr):
        match = _MATH_STEP.match(expr, pos)
        if match is None:
            raise TrailhoundError(f"{text!r}: cannot read date math from {expr[pos:]!r}")
        steps.append((match[1], match[2], match[3]))
        pos = match.end()
    return steps


def _resolve_math(expr: str, now: datetime, text: str) -> datetime:
    body, _, rounding = expr.partition("/")
    moment = now
    for sign, amount, unit in _math_steps(body, text):
        count = int(amount) if sign == "+" else -int(amount)
        moment = _add_calendar(moment, count, unit) if unit in _CALENDAR_UNITS else (
            moment + _unit_span(unit, text) * count
        )
    return _round_down(moment, rounding, text) if rounding else moment


def _add_calendar(moment: datetime, count: int, unit: str) -> datetime:
    months = count * (12 if unit == "y" else 1)
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, _days_in_month(year, month + 1))
    return moment.replace(year=year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _round_down(moment: datetime, unit: str, text: str) -> datetime:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    match unit:
        case "s":
            return moment.replace(microsecond=0)
        case "m":
            return moment.replace(second=0, microsecond=0)
        case "h" | "H":
            return moment.replace(minute=0, second=0, microsecond=0)
        case "d":
            return midnight
        case "w":
            return midnight - timedelta(days=moment.weekday())
        case "M":
            return midnight.replace(day=1)
        case "y":
            return midnight.replace(month=1, day=1)
    raise TrailhoundError(f"{text!r}: cannot round to unit {unit!r}")


def _whole_seconds(span: timedelta) -> int:
    if span <= timedelta(0) or span.microseconds:
        raise ValueError(f"cannot write {span!r} as a duration: it must be whole positive seconds")
    return int(span.total_seconds())


def _whole_units(span: timedelta) -> tuple[int, str]:
    seconds = _whole_seconds(span)
    for unit, size in _WRITE_UNITS:
        if seconds % size == 0:
            return seconds // size, unit
    raise AssertionError("unreachable: every whole second divides by 1")
