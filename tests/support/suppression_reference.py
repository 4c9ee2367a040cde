"""A plain-Python model of what a suppressed, capped query rule must alert on, run by run.

Written from Elastic's description of alert suppression and max_signals, one event at a time,
so that tests can hold the engine's column-wise evaluation against it:

- an event delivered again (the same event id, in the same run or a later one) counts once:
  its later copies are left out before anything else;
- a query rule's every match is an alert-to-be; matches are decided in event order, ties
  broken by event id and then by arrival;
- per suppression group (the group_by values, arrays whole, a missing field as null), the
  first alert opens a window of `duration` in event time, [start, start + duration); later
  matches of the group inside it are folded into it and counted (`count`); a window opened
  by an earlier run keeps folding, but the alert it belongs to is already out; a match
  delivered later than the lateness falls in the window of its own time (the group's latest
  to start at or before it), or opens one of its own;
- with "doNotSuppress", a match missing any group_by field is an alert of its own;
- max_signals caps the alerts of one run per rule interval bucket (epoch time // interval),
  after suppression;
- an alert already emitted by an earlier run is not emitted again.

A run decides the pending matches up to its cutoff (everything when final, else the newest
event time seen minus the lateness); later matches wait for the next run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from trailhound.alerts.model import alert_id
from trailhound.rules.model import Rule

_US = timedelta(microseconds=1)
GroupValue = str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Event:
    """One CloudTrail event as the rule sees it; `time` in epoch microseconds."""

    event_id: str
    time: int
    user: str | None
    tables: tuple[str, ...] | None
    matches: bool  # whether the rule's query matches it


@dataclass(frozen=True, slots=True)
class Expected:
    """What a user sees of an alert."""

    id: str
    event_ids: tuple[str, ...]
    count: int
    time: int
    first_time: int
    key: tuple[tuple[str, str | None], ...]


@dataclass(slots=True)
class _Open:
    event: Event
    count: int = 1


@dataclass(slots=True)
class QueryReference:
    """The state a store keeps between runs, and the alerts each run must give."""

    rule: Rule
    lateness: timedelta
    windows: dict[tuple[GroupValue, ...], list[tuple[int, int, _Open | None]]] = field(
        default_factory=dict
    )
    pending: list[tuple[int, Event]] = field(default_factory=list)
    emitted: set[str] = field(default_factory=set)
    counted: set[str] = field(default_factory=set)
    latest: int | None = None
    arrivals: int = 0

    def run(self, events: list[Event], *, final: bool) -> tuple[list[Expected], int]:
        """The new alerts of one run over `events` (in arrival order), and how many
        alerts max_signals dropped."""
        for ev in events:
            self.arrivals += 1
            self.latest = ev.time if self.latest is None else max(self.latest, ev.time)
            if ev.matches and ev.event_id not in self.counted:
                self.counted.add(ev.event_id)
                self.pending.append((self.arrivals, ev))
        decided = self._decide(final)
        alerts = self._suppress(decided)
        kept = self._cap(alerts)
        fresh = []
        for opened in kept:
            ident = alert_id(self.rule, (), [opened.event.event_id])
            if ident not in self.emitted:
                fresh.append(self._expected(ident, opened))
        self.emitted.update(e.id for e in fresh)
        return sorted(fresh, key=lambda e: (e.time, e.id)), len(alerts) - len(kept)

    def _decide(self, final: bool) -> list[Event]:
        """The pending matches this run decides, in event order; the rest keep waiting."""
        cutoff = self._cutoff(final)
        ready = [p for p in self.pending if p[1].time <= cutoff]
        self.pending = [p for p in self.pending if p[1].time > cutoff]
        ready.sort(key=lambda p: (p[1].time, p[1].event_id, p[0]))
        return [ev for _, ev in ready]

    def _cutoff(self, final: bool) -> float:
        if final or self.latest is None:
            return math.inf
        return self.latest - int(self.lateness / _US)

    def _suppress(self, decided: list[Event]) -> list[_Open]:
        sup = self.rule.suppression
        if sup is None:
            return [_Open(ev) for ev in decided]
        duration = int((sup.duration or self.rule.interval) / _US)
        alerts: list[_Open] = []
        for ev in decided:
            group = tuple(_value(ev, name) for name in sup.group_by)
            if None in group and sup.missing_fields_strategy == "doNotSuppress":
                alerts.append(_Open(ev))
                continue
            windows = self.windows.setdefault(group, [])
            # the window of the match's own time: the latest to start at or before it
            inside = [w for w in windows if w[0] <= ev.time]
            if inside and ev.time < inside[-1][1]:
                opener = inside[-1][2]
                if opener is not None:  # else the alert came out in an earlier run
                    opener.count += 1
                continue
            opened = _Open(ev)
            windows.append((ev.time, ev.time + duration, opened))
            windows.sort(key=lambda w: w[0])
            alerts.append(opened)
        for group, windows in self.windows.items():  # a later run's windows have no opener
            self.windows[group] = [(start, end, None) for start, end, _ in windows]
        return alerts

    def _cap(self, alerts: list[_Open]) -> list[_Open]:
        interval = max(1, int(self.rule.interval / _US))
        per_bucket: dict[int, int] = {}
        kept = []
        for opened in alerts:
            bucket = opened.event.time // interval
            per_bucket[bucket] = per_bucket.get(bucket, 0) + 1
            if per_bucket[bucket] <= self.rule.max_signals:
                kept.append(opened)
        return kept

    @staticmethod
    def _expected(ident: str, opened: _Open) -> Expected:
        ev = opened.event
        return Expected(ident, (ev.event_id,), opened.count, ev.time, ev.time, ())


def _value(ev: Event, name: str) -> GroupValue:
    if name == "user.name":
        return ev.user
    if name == "aws.dynamodb.table_name":
        return ev.tables or None
    raise ValueError(f"the reference knows no group field {name!r}")
