"""The timeline's geometry: bars of activity per interval, one mark per alert in a lane of its
severity, and a time axis. Numbers only; the template draws them as inline SVG, so the page
needs no chart library and no script to show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from trailhound.report.gather import SEVERITIES, UNRATED, AlertView, ReportData

MINUTE = 60 * 1_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
BAR_STEPS = (5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
             7 * DAY, 28 * DAY, 91 * DAY)  # fmt: skip
TICK_STEPS = (5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
              2 * DAY, 7 * DAY, 28 * DAY, 91 * DAY, 364 * DAY)  # fmt: skip
MOST_BARS = 150
MOST_TICKS = 8
TICK_ROOM = 36  # half the width of the longest tick label

WIDTH = 1000
LEFT = 76  # room for the lane names
RIGHT = 10
TOP = 6
LANE = 18
GAP = 10
BARS = 110
AXIS = 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    start: int  # epoch µs
    end: int
    count: int


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    alert: AlertView


@dataclass(frozen=True)
class Lane:
    severity: str
    y: float  # its middle
    alerts: int


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    left: int
    right: int
    bars_top: float
    bars_bottom: float
    lanes: tuple[Lane, ...]
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    ticks: tuple[Tick, ...]
    step: int  # a bar's interval (µs)
    counts: str  # what the bars count: "DynamoDB events" or "alerts"
    most: int  # the tallest bar's count


def draw(data: ReportData) -> Timeline | None:
    """The timeline of the report, or None when it covers no time at all."""
    if data.start is None or data.end is None:
        return None
    step = _step(data.end - data.start, data.scope.step if data.scope.activity else 0)
    start = data.start - data.start % step
    end = (data.end // step + 1) * step  # the interval holding the last moment included
    activity = data.scope.activity
    counted = activity if activity is not None else _alert_counts(data.alerts)
    counts = _binned(counted, start, end, step)
    present = [s for s in (*SEVERITIES, UNRATED) if any(a.severity == s for a in data.alerts)]
    lanes = tuple(
        Lane(s, TOP + LANE * i + LANE / 2, sum(a.severity == s for a in data.alerts))
        for i, s in enumerate(present)
    )
    bars_top = TOP + LANE * len(lanes) + GAP
    scale = _Scale(start, end)
    most = max(counts, default=0)
    middles = {lane.severity: lane.y for lane in lanes}
    return Timeline(
        width=WIDTH,
        height=int(bars_top + BARS + AXIS),
        left=LEFT,
        right=WIDTH - RIGHT,
        bars_top=bars_top,
        bars_bottom=bars_top + BARS,
        lanes=lanes,
        bars=tuple(_bars(counts, start, step, scale, bars_top, most)),
        marks=tuple(_mark(a, scale, middles) for a in data.alerts),
        ticks=tuple(_ticks(start, end, scale)),
        step=step,
        counts="DynamoDB events" if activity is not None else "alerts",
        most=most,
    )


class _Scale:
    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.span = max(1, end - start)

    def x(self, time: int) -> float:
        return round(LEFT + (time - self.start) / self.span * (WIDTH - RIGHT - LEFT), 2)


def _step(span: int, finest: int) -> int:
    return next((s for s in BAR_STEPS if s >= finest and span / s <= MOST_BARS), BAR_STEPS[-1])


def _alert_counts(alerts: Sequence[AlertView]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for alert in alerts:
        counts[alert.time] = counts.get(alert.time, 0) + 1
    return counts


def _binned(counts: Mapping[int, int], start: int, end: int, step: int) -> list[int]:
    bins = [0] * ((end - start) // step)
    for time, count in counts.items():
        if start <= time < end:
            bins[(time - start) // step] += count
    return bins


def _bars(
    counts: Sequence[int], start: int, step: int, scale: _Scale, top: float, most: int
) -> list[Bar]:
    bars = []
    for i, count in enumerate(counts):
        if not count:
            continue
        height = max(1.0, round(count / most * BARS, 2))
        left, right = scale.x(start + i * step), scale.x(start + (i + 1) * step)
        bars.append(
            Bar(left, top + BARS - height, max(0.5, right - left - 0.5), height,
                start + i * step, start + (i + 1) * step, count)
        )  # fmt: skip
    return bars


def _mark(alert: AlertView, scale: _Scale, lanes: Mapping[str, float]) -> Mark:
    # marks at the same moment are spread over the lane's height, so that a burst shows as one
    jitter = ((alert.index * 7) % 5 - 2) * 2.6
    return Mark(scale.x(alert.time), lanes[alert.severity] + jitter, alert)


def _ticks(start: int, end: int, scale: _Scale) -> list[Tick]:
    step = next((s for s in TICK_STEPS if (end - start) / s <= MOST_TICKS), TICK_STEPS[-1])
    form = "%Y-%m-%d" if step >= DAY else "%m-%d %H:%M"
    first = -(-start // step) * step
    ticks = [
        Tick(scale.x(t), datetime.fromtimestamp(t / 1_000_000, UTC).strftime(form))
        for t in range(first, end + 1, step)
    ]
    # a label centred on the right edge would be cut in half
    return [t for t in ticks if t.x <= WIDTH - RIGHT - TICK_ROOM]
