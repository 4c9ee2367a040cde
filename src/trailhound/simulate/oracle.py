"""The rule semantics of DESIGN 3.2, re-stated over a stream of events in event-time order.

Each check sees every event once, in time order, and keeps only what its rule type needs: a
suppression window per group, a sliding window per group, the last sighting per term, the
open sequences per key. Before an event is kept, every check is asked whether the event would
make the outcome depend on a convention the design leaves open (two events of one group in
the same second, an event exactly on a window's edge); such events are not written at all, so
the answer key holds whatever order or edge convention an engine picks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trailhound.simulate.facts import Facts

Predicate = Callable[[Facts], bool]
Values = Callable[[Facts], tuple[Any, ...] | None]  # None: a field is missing
Weight = Callable[[Facts], int]  # how many items an event counts for
DYNAMODB_ONLY = frozenset({"dynamodb.amazonaws.com"})


@dataclass(slots=True)
class ExpectedAlert:
    rule: str
    first_event_id: str
    first_time: int
    count: int
    key: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "first_event_id": self.first_event_id,
                "first_event_time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                  time.gmtime(self.first_time)),
                "count": self.count, "key": self.key}


@dataclass(slots=True)
class _Window:
    start: int
    end: int
    alert: ExpectedAlert


class Check:
    """One rule: `matches` filters, `ambiguous` vetoes, `commit` updates state and alerts."""

    def __init__(self, name: str, predicate: Predicate,
                 actions: frozenset[str] | None = None,
                 sources: frozenset[str] = DYNAMODB_ONLY) -> None:
        self.name = name
        self.matches = predicate
        self.actions = actions  # the event names it can match; None: any call of its sources
        self.sources = sources  # the services whose calls it sees
        self.alerts: list[ExpectedAlert] = []

    def ambiguous(self, f: Facts) -> bool:
        return False

    def commit(self, f: Facts) -> None:
        raise NotImplementedError

    def _alert(self, f: Facts, count: int, key: dict[str, Any]) -> ExpectedAlert:
        alert = ExpectedAlert(self.name, f.event_id, f.t, count, key)
        self.alerts.append(alert)
        return alert


class QueryCheck(Check):
    """One alert per match; with suppression, one per group per `duration`, counting the rest."""

    def __init__(self, name: str, predicate: Predicate, actions: frozenset[str] | None = None,
                 *, group_fields: tuple[str, ...] = (), group: Values | None = None,
                 duration: int = 0, sources: frozenset[str] = DYNAMODB_ONLY) -> None:
        super().__init__(name, predicate, actions, sources)
        self.group_fields = group_fields
        self.group = group
        self.duration = duration
        self._windows: dict[tuple[Any, ...] | None, _Window] = {}

    def ambiguous(self, f: Facts) -> bool:
        if self.group is None:
            return False
        window = self._windows.get(self.group(f))
        return window is not None and f.t in (window.start, window.end)

    def commit(self, f: Facts) -> None:
        if self.group is None:
            self._alert(f, 1, {})
            return
        key = self.group(f)
        window = self._windows.get(key)
        if window is not None and window.start <= f.t < window.end:
            window.alert.count += 1
            return
        values = key if key is not None else (None,) * len(self.group_fields)
        alert = self._alert(f, 1, dict(zip(self.group_fields, values, strict=True)))
        self._windows[key] = _Window(f.t, f.t + self.duration, alert)


class ThresholdCheck(Check):
    """`count >= value` per group in a sliding window; evidence is consumed by its alert."""

    def __init__(self, name: str, predicate: Predicate, actions: frozenset[str] | None = None,
                 *, group_fields: tuple[str, ...], group: Values, value: int, window: int,
                 distinct: tuple[str, Callable[[Facts], tuple[str, ...]]] | None = None,
                 distinct_value: int = 0, weight: Weight | None = None,
                 count: tuple[str, tuple[str, ...]] | None = None) -> None:
        super().__init__(name, predicate, actions)
        self.weight: Weight = weight or (lambda f: 1)
        self.count = count  # the rule's item count: its field and values
        self.group_fields = group_fields
        self.group = group
        self.value = value
        self.window = window
        # cardinality: the field's name, how to read its values, and how many must differ
        self.distinct_field = distinct[0] if distinct else None
        self.distinct = distinct[1] if distinct else None
        self.distinct_value = distinct_value
        self._open: dict[tuple[Any, ...], deque[Facts]] = {}
        self._values: dict[tuple[Any, ...], Counter[str]] = {}  # distinct values in _open
        self._last: dict[tuple[Any, ...], int] = {}  # time of the group's latest event

    def ambiguous(self, f: Facts) -> bool:
        """A second event of a group in one second, or the window's edge where it decides.

        Any tie in a group can decide an alert: which event crosses the bar, which side of
        an alert a same-second event falls on (and so the next alert's count), which event
        opens an alert once the pair is the window's head. Refusing the tie when it happens,
        not only when an alert would form, keeps every group strictly ordered in time, and
        moves the call a second instead of holding it until the tie leaves the window.
        """
        key = self.group(f)
        if key is None:
            return False
        if self._last.get(key) == f.t:
            return True
        rows = self._evicted(key, f.t)
        return (bool(rows) and rows[0].t == f.t - self.window  # in or out, by convention
                and self._would_alert(key, rows, f))

    def commit(self, f: Facts) -> None:
        key = self.group(f)
        if key is None:
            return
        self._last[key] = f.t
        rows = self._evicted(key, f.t)
        alert = self._would_alert(key, rows, f)
        rows.append(f)
        if self.distinct is not None:
            self._values.setdefault(key, Counter()).update(self.distinct(f))
        if alert:
            first = rows[0]
            items = sum(self.weight(r) for r in rows)
            self.alerts.append(ExpectedAlert(self.name, first.event_id, first.t, items,
                                             dict(zip(self.group_fields, key, strict=True))))
            rows.clear()
            self._values.pop(key, None)

    def _evicted(self, key: tuple[Any, ...], t: int) -> deque[Facts]:
        """The group's open events once those older than the window before `t` are gone."""
        rows = self._open.setdefault(key, deque())
        values = self._values.get(key)
        while rows and rows[0].t < t - self.window:
            gone = rows.popleft()
            if values is not None and self.distinct is not None:
                values.subtract(self.distinct(gone))
                values += Counter()  # drop values no longer held by any event
        return rows

    def _would_alert(self, key: tuple[Any, ...], rows: deque[Facts], f: Facts) -> bool:
        if sum(self.weight(r) for r in rows) + self.weight(f) < self.value:
            return False
        if self.distinct is None:
            return True
        held = set(self._values.get(key, ())) | set(self.distinct(f))
        return len(held) >= self.distinct_value


class NewTermsCheck(Check):
    """A term not seen within `history` before the event; none during the learning period."""

    def __init__(self, name: str, predicate: Predicate, actions: frozenset[str] | None = None,
                 *, fields: tuple[str, ...], terms: Callable[[Facts], list[tuple[Any, ...]]],
                 history: int, learning: int | None = None,
                 sources: frozenset[str] = DYNAMODB_ONLY) -> None:
        super().__init__(name, predicate, actions, sources)
        self.fields = fields
        self.terms = terms
        self.history = history
        self.learning = learning
        self._first_match: int | None = None
        self._last_seen: dict[tuple[Any, ...], int] = {}
        self._new_at: dict[tuple[Any, ...], int] = {}

    def _learning_end(self, t: int) -> int:
        first = self._first_match if self._first_match is not None else t
        return first + self.learning if self.learning is not None else -(2**62)

    def _is_new(self, term: tuple[Any, ...], t: int) -> bool:
        last = self._last_seen.get(term)
        return last is None or t - last > self.history

    def ambiguous(self, f: Facts) -> bool:
        end = self._learning_end(f.t)
        for term in self.terms(f):
            last = self._last_seen.get(term)
            if last is not None and f.t - last == self.history:
                return True
            if self._is_new(term, f.t) and f.t == end:
                return True
            if self._new_at.get(term) == f.t and f.t >= end:
                return True
        return False

    def commit(self, f: Facts) -> None:
        if self._first_match is None:
            self._first_match = f.t
        end = self._learning_end(f.t)
        for term in self.terms(f):
            if self._is_new(term, f.t):
                self._new_at[term] = f.t
                if f.t >= end:
                    self._alert(f, 1, dict(zip(self.fields, term, strict=True)))
            self._last_seen[term] = f.t


@dataclass(slots=True)
class _Partial:
    events: list[Facts] = field(default_factory=list)


class SequenceCheck(Check):
    """Ordered steps by the same key within `maxspan` of the first step; steps are consumed."""

    def __init__(self, name: str, steps: tuple[Predicate, ...],
                 actions: frozenset[str] | None = None, *, by_fields: tuple[str, ...],
                 by: Values, maxspan: int) -> None:
        super().__init__(name, lambda f: any(step(f) for step in steps), actions)
        self.steps = steps
        self.by_fields = by_fields
        self.by = by
        self.maxspan = maxspan
        self._partials: dict[tuple[Any, ...], list[_Partial]] = {}

    def _step(self, f: Facts) -> int:
        return next(i for i, step in enumerate(self.steps) if step(f))

    def ambiguous(self, f: Facts) -> bool:
        key = self.by(f)
        if key is None:
            return False
        for partial in self._partials.get(key, ()):
            start = partial.events[0].t
            if f.t - start == self.maxspan or any(e.t == f.t for e in partial.events):
                return True
        return False

    def commit(self, f: Facts) -> None:
        key = self.by(f)
        if key is None:
            return
        step = self._step(f)
        partials = [p for p in self._partials.get(key, []) if f.t - p.events[0].t <= self.maxspan]
        target = next((p for p in partials if len(p.events) == step), None)
        if target is not None:
            target.events.append(f)
            if len(target.events) == len(self.steps):
                partials.remove(target)
                first = target.events[0]
                self.alerts.append(ExpectedAlert(
                    self.name, first.event_id, first.t, len(target.events),
                    dict(zip(self.by_fields, key, strict=True))))
        elif step == 0:
            partials.append(_Partial([f]))
        self._partials[key] = partials


@dataclass(slots=True)
class _Hour:
    count: int = 0
    alerted: bool = False


class BaselineCheck(Check):
    """A group's items per fixed window against the mean of its active windows of `history`:
    one alert per window, at the event that brings it to the bar, once the group is warm."""

    def __init__(self, name: str, predicate: Predicate, actions: frozenset[str] | None = None,
                 *, group_fields: tuple[str, ...], group: Values, weight: Weight, window: int,
                 history: int, min_count: int, min_history: int, factor: float | None = None,
                 deviations: float | None = None) -> None:
        super().__init__(name, predicate, actions)
        self.group_fields, self.group, self.weight = group_fields, group, weight
        self.window, self.history, self.min_history = window, history, min_history
        self.min_count, self.factor, self.deviations = min_count, factor, deviations
        self._windows: dict[tuple[Any, ...], dict[int, _Hour]] = {}
        self._last: dict[tuple[Any, ...], int] = {}

    def _state(self, f: Facts) -> tuple[_Hour, list[tuple[int, int]], int] | None:
        key = self.group(f)
        if key is None:
            return None
        start = f.t - f.t % self.window
        windows = self._windows.setdefault(key, {})
        past = sorted((s, h.count) for s, h in windows.items()
                      if start - self.history <= s < start and h.count)
        return windows.setdefault(start, _Hour()), past, start

    def _bar(self, past: list[tuple[int, int]], start: int) -> float | None:
        if not past or past[0][0] > start - self.min_history:
            return None  # still warming up
        counts = [c for _, c in past]
        mean = statistics.fmean(counts)
        bar = float(self.min_count)
        if self.factor is not None:
            bar = max(bar, self.factor * mean)
        if self.deviations is not None:
            bar = max(bar, mean + self.deviations * statistics.pstdev(counts))
        return math.ceil(bar - 1e-9) if bar > self.min_count else bar

    def ambiguous(self, f: Facts) -> bool:
        state = self._state(f)
        if state is None:
            return False
        hour, past, start = state
        if past and past[0][0] == start - self.min_history:
            return True  # warm or not, by convention only
        bar = self._bar(past, start)
        crosses = bar is not None and not hour.alerted and hour.count + self.weight(f) >= bar
        return crosses and self._last.get(self.group(f) or ()) == f.t

    def commit(self, f: Facts) -> None:
        state = self._state(f)
        if state is None:
            return
        hour, past, start = state
        self._last[self.group(f) or ()] = f.t
        bar = self._bar(past, start)
        weight = self.weight(f)
        hour.count += weight
        if bar is not None and not hour.alerted and weight and hour.count >= bar:
            hour.alerted = True
            key = self.group(f) or ()
            self._alert(f, hour.count, dict(zip(self.group_fields, key, strict=True)))


class CorrelationCheck(Check):
    """An alerting event about a key some fact taught within `remember` before it; facts are
    (key, value) pairs remembered with their latest sighting."""

    def __init__(self, name: str, alerting: Predicate, learning: Predicate,
                 actions: frozenset[str] | None, sources: frozenset[str], *, key_field: str,
                 value_field: str, keys: Callable[[Facts], list[str]],
                 facts: Callable[[Facts], list[tuple[str, str]]], remember: int) -> None:
        super().__init__(name, lambda f: alerting(f) or learning(f), actions, sources)
        self.alerting, self.learning = alerting, learning
        self.key_field, self.value_field = key_field, value_field
        self.keys, self.facts, self.remember = keys, facts, remember
        self._seen: dict[str, dict[str, int]] = {}  # key -> value -> latest sighting
        self._alerted_at: dict[str, int] = {}  # key -> time of its latest alerting event

    def ambiguous(self, f: Facts) -> bool:
        if self.learning(f) and any(self._alerted_at.get(k) == f.t for k, _ in self.facts(f)):
            return True
        if self.alerting(f):
            for key in self.keys(f):
                if any(f.t - seen in (0, self.remember)
                       for seen in self._seen.get(key, {}).values()):
                    return True
        return False

    def commit(self, f: Facts) -> None:
        if self.alerting(f):
            for key in self.keys(f):
                self._alerted_at[key] = f.t
                known = sorted(v for v, seen in self._seen.get(key, {}).items()
                               if f.t - seen <= self.remember)
                if known:
                    self._alert(f, 1, {self.key_field: key, self.value_field: ", ".join(known)})
        if self.learning(f):
            for key, value in self.facts(f):
                self._seen.setdefault(key, {})[value] = f.t


class Oracle:
    """Feeds events to every check; `offer` says whether the event may be written."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        self._by_call: dict[tuple[str, str], list[Check]] = {}

    def interested(self, source: str, action: str) -> list[Check]:
        found = self._by_call.get((source, action))
        if found is None:
            found = self._by_call[(source, action)] = [
                c for c in self.checks
                if source in c.sources and (c.actions is None or action in c.actions)
            ]
        return found

    def offer(self, f: Facts) -> bool:
        hits = [c for c in self.interested(f.source, f.action) if c.matches(f)]
        if any(c.ambiguous(f) for c in hits):
            return False
        for c in hits:
            c.commit(f)
        return True

    def alerts(self) -> list[ExpectedAlert]:
        found = [a for c in self.checks for a in c.alerts]
        found.sort(key=lambda a: (a.first_time, a.rule, a.first_event_id))
        return found
