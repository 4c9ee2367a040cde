"""baseline rules: a group's count in a window of event time against the group's own history.

Windows are fixed spans of event time (aligned to the epoch, so every run cuts them alike).
A window alerts once, at the event that first brings its count to the bar: at least
`min_count`, at least `factor` times the group's mean count over the windows of its history in
which it was active, and at least that mean plus `deviations` standard deviations. A group
alerts only once warm: active in some window of its history that began `min_history` or more
before the window judged. Every decided event is counted into its window at once and then
forgotten; a window's count, its first event time and whether it alerted are kept in the state
(`trailhound.state.baselines`), so runs cut anywhere make the same decisions, at the same
events, as one run. The alert is identified by the event that crossed the bar.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from datetime import timedelta
from itertools import groupby
from typing import Any, NamedTuple

import orjson

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import item_count_sql, keyed_rows_sql
from trailhound.rules.model import BaselineSpec, Rule
from trailhound.state import baselines
from trailhound.state.baselines import Window
from trailhound.state.store import Store

_US = timedelta(microseconds=1)


class _Row(NamedTuple):
    seq: int
    ts: int
    event_id: str
    weight: int


class _Spans(NamedTuple):
    """The spec's durations in µs."""

    window: int
    history: int
    warmup: int


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, BaselineSpec)
    spans = _Spans(*(int(d / _US) for d in (spec.window, spec.history, spec.min_history)))
    width = len(spec.fields)
    order = ", ".join([f"k{i}" for i in range(width)] + ["ts", "event_id", "seq"])
    sql = keyed_rows_sql(spec.fields, ((item_count_sql(spec.count), "weight"),))
    params = {"rule": rule.rule_id, "cutoff": cutoff}
    rows = _once(baselines.uncounted(store, rule.rule_id, sql, order, params))
    stored = baselines.load(store, rule.rule_id)
    candidates: list[Candidate] = []
    # the newest event time known (a stored window's start stands for its events)
    latest = max((start for g in stored.values() for start in g), default=None)
    for key_values, group in groupby(rows, key=lambda r: tuple(r[3 : 3 + width])):
        windows = stored.setdefault(orjson.dumps(key_values).decode(), {})
        key = tuple(zip(spec.fields, key_values, strict=True))
        parsed = [_Row(r[0], r[1], r[2] or "", r[3 + width]) for r in group]
        candidates += _judge(parsed, windows, key, spec, spans)
        latest = parsed[-1].ts if latest is None else max(latest, parsed[-1].ts)
    if latest is not None:
        _remember(store, rule.rule_id, stored, rows, min(cutoff, latest), spans)
    return Outcome(candidates)


def _remember(
    store: Store,
    rule_id: str,
    stored: baselines.Windows,
    rows: list[Any],
    horizon: int,
    spans: _Spans,
) -> None:
    """Keep the windows and counted events a later event may still look back on: its window
    starts after `horizon`'s, so nothing older than that window's history."""
    forget = horizon - horizon % spans.window - spans.history - spans.window
    baselines.save(store, rule_id, stored, forget_before=forget)
    counted = [(r[2], r[1]) for r in rows if r[2] is not None]
    baselines.note_counted(store, rule_id, counted, forget_before=forget)


def _once(rows: list[Any]) -> list[Any]:
    """Rows in order, an event delivered twice in this run kept once per group."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for row in rows:
        ident = (row[2], *row[3:-1])  # event id and group values
        if row[2] is None or ident not in seen:
            seen.add(ident)
            kept.append(row)
    return kept


def _judge(
    rows: list[_Row],
    windows: dict[int, Window],
    key: tuple[tuple[str, str | None], ...],
    spec: BaselineSpec,
    spans: _Spans,
) -> list[Candidate]:
    """Count one group's rows into their windows (in time order), alerting where one crosses
    its bar; `windows` is updated in place."""
    found: list[Candidate] = []
    for start, in_window in groupby(rows, key=lambda r: r.ts - r.ts % spans.window):
        window = windows.setdefault(start, Window())
        history = _history(windows, start, spans)
        bar = _bar(spec, history) if _warm(history, start, spans) else None
        seen: list[_Row] = []
        for row in in_window:
            window.count += row.weight
            window.first = row.ts if window.first is None else min(window.first, row.ts)
            seen.append(row)
            if bar is not None and not window.alerted and window.count >= bar and row.weight:
                window.alerted = True
                found.append(_candidate(key, seen, window, row))
    return found


def _history(windows: dict[int, Window], start: int, spans: _Spans) -> list[tuple[int, int]]:
    """(start, count) of the group's active windows in the history before `start`."""
    begin = start - spans.history
    return sorted((s, w.count) for s, w in windows.items() if begin <= s < start and w.count)


def _warm(history: list[tuple[int, int]], start: int, spans: _Spans) -> bool:
    return bool(history) and history[0][0] <= start - spans.warmup


def _bar(spec: BaselineSpec, history: list[tuple[int, int]]) -> float:
    """The count a window must reach, given the counts of the group's active windows."""
    counts = [c for _, c in history]
    mean = statistics.fmean(counts)
    bar = float(spec.min_count)
    if spec.factor is not None:
        bar = max(bar, spec.factor * mean)
    if spec.deviations is not None:
        bar = max(bar, mean + spec.deviations * statistics.pstdev(counts))
    return math.ceil(bar - 1e-9) if bar > spec.min_count else bar


def _candidate(
    key: tuple[tuple[str, str | None], ...], seen: Iterable[_Row], window: Window, row: _Row
) -> Candidate:
    evidence = list(seen)
    return Candidate(
        key,
        [r.seq for r in evidence],
        [row.event_id],  # the event that crossed the bar identifies the alert
        time=row.ts,
        first_time=window.first if window.first is not None else row.ts,
        absorbed=window.count - len(evidence),  # what the window counted beyond this evidence
    )
