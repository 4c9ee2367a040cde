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
from collections.abc import Iterator
from datetime import timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound import heap
from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import item_count_sql, keyed_rows_sql
from trailhound.numpy_arrow import arrow_array
from trailhound.rules.model import BaselineSpec, Rule
from trailhound.state import baselines
from trailhound.state.baselines import Window
from trailhound.state.store import Store

_US = timedelta(microseconds=1)
Ints = npt.NDArray[np.int64]


class _Spans(NamedTuple):
    """The spec's durations in µs."""

    window: int
    history: int
    warmup: int


class _Rows(Struct, frozen=True):
    """The rule's uncounted rows as arrays, in group then time order (`order`: their places
    in `table`, which is left as read); `before[i]` is the sum of the weights of the rows
    before row i, so any run's count is one subtraction."""

    table: pa.Table
    order: Ints
    group: Ints  # equal where the group's values are
    seq: Ints
    ts: Ints
    weight: Ints
    before: Ints
    window: Ints  # the start of each row's window

    @classmethod
    def of(cls, table: pa.Table, order: Ints, group: Ints, window: int) -> _Rows:
        weight = _ints(table.column("weight"))[order]
        ts = _ints(table.column("ts"))[order]
        before = np.concatenate(([0], np.cumsum(weight)))
        seq = _ints(table.column("seq"))[order]
        return cls(table, order, group[order], seq, ts, weight, before, ts - ts % window)

    def event_id(self, i: int) -> str:
        """The event id of row `i` ("" when the event had none)."""
        value = self.table.column("event_id")[int(self.order[i])].as_py()
        return value if isinstance(value, str) else ""

    def value(self, column: pa.Array, i: int) -> str | None:
        """Row `i`'s value in `column`, one of the table's text columns (combined)."""
        value = column[int(self.order[i])].as_py()
        return value if isinstance(value, str) else None


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    """`_evaluated`, then what its Arrow tables took is given back: the statements after it
    (alerts' evidence, forgetting) are DuckDB's, which cannot use Arrow's freed memory."""
    outcome = _evaluated(store, rule, cutoff)
    heap.give_back_arrow()
    return outcome


def _evaluated(store: Store, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, BaselineSpec)
    spans = _Spans(*(int(d / _US) for d in (spec.window, spec.history, spec.min_history)))
    width = len(spec.fields)
    # DuckDB's 64-bit hash of the event id: its values told apart are ids told apart
    extra = ((item_count_sql(spec.count), "weight"), ('hash("event.id")', "id_hash"))
    sql = keyed_rows_sql(spec.fields, extra)
    params = {"rule": rule.rule_id, "cutoff": cutoff}
    table = baselines.uncounted(store, rule.rule_id, sql, params)
    order, group = _order(table, width)
    order, once_each = _once(table, order, group)
    heap.give_back_arrow()  # what the sort and the codes took (~70 MB at 4M events)
    if len(order) < table.num_rows:  # rows left out: the rest are counted, taken in order
        table, group = kernels.take(table, arrow_array(order)), group[order]
        order = np.arange(len(order), dtype=np.int64)
    stored = baselines.load(store, rule.rule_id)
    candidates: list[Candidate] = []
    # the newest event time known (a stored window's start stands for its events)
    latest = max((start for g in stored.values() for start in g), default=None)
    if table.num_rows:
        rows = _Rows.of(table, order, group, spans.window)
        # a group's values are read at its first row: not every row's (580,000 at 4M)
        keys = [table.column(f"k{i}").combine_chunks() for i in range(width)]
        windows: dict[int, Window] = {}
        key: tuple[tuple[str, str | None], ...] = ()
        for a, b, first_of_group in _runs(rows):
            if first_of_group:
                values = tuple(rows.value(column, a) for column in keys)
                windows = stored.setdefault(orjson.dumps(values).decode(), {})
                key = tuple(zip(spec.fields, values, strict=True))
            crossed = _judge(rows, a, b, windows, spec, spans)
            if crossed is not None:
                window = windows[int(rows.window[a])]
                candidates.append(_candidate(key, rows, a, *crossed, window))
        newest = int(rows.ts.max())
        latest = newest if latest is None else max(latest, newest)
    if latest is not None:
        _remember(store, rule.rule_id, stored, table, min(cutoff, latest), spans, once_each)
    return Outcome(candidates)


def unmatched(store: Store, rule: Rule, cutoff: int) -> Outcome:
    """`evaluate`'s outcome for a rule with no stored matches, without reading them (the read
    has a fixed cost and could find nothing): no candidate, and the rule's stored windows and
    counted events trimmed as `evaluate` trims them."""
    spec = rule.spec
    assert isinstance(spec, BaselineSpec)
    spans = _Spans(*(int(d / _US) for d in (spec.window, spec.history, spec.min_history)))
    stored = baselines.load(store, rule.rule_id)
    latest = max((start for g in stored.values() for start in g), default=None)
    if latest is not None:
        none = pa.table({"event_id": pa.array([], pa.string()), "ts": pa.array([], pa.int64())})
        _remember(store, rule.rule_id, stored, none, min(cutoff, latest), spans, True)
    return Outcome([])


def _remember(
    store: Store,
    rule_id: str,
    stored: baselines.Windows,
    rows: pa.Table,
    horizon: int,
    spans: _Spans,
    once_each: bool,
) -> None:
    """Keep the windows and counted events a later event may still look back on: its window
    starts after `horizon`'s, so nothing older than that window's history. `once_each`: no
    event id is in `rows` twice."""
    forget = horizon - horizon % spans.window - spans.history - spans.window
    baselines.save(store, rule_id, stored, forget_before=forget)
    counted = rows.select(["event_id", "ts"])
    if counted.column("event_id").null_count:  # a copy of every id otherwise (26 MB at 4M)
        counted = kernels.filter(counted, kernels.is_valid(counted.column("event_id")))
    baselines.note_counted(store, rule_id, counted, forget_before=forget, distinct=once_each)


def _order(table: pa.Table, width: int) -> tuple[Ints, Ints]:
    """The rows' places in group, time, event id and seq order (as DuckDB's ORDER BY k0..,
    ts, event_id, seq put them: text by its bytes, nulls last), and each row's group code.
    Sorted by Arrow on the group's number, not by DuckDB on its text: 0.04 CPU-s for 580,000
    rows at 4M events against DuckDB's 0.25, and no sorted copy of the rows' text is made."""
    group = _group_codes(table, width)
    keys = pa.table(
        {"g": arrow_array(group), "ts": table.column("ts"), "e": table.column("event_id"),
         "seq": table.column("seq")}
    )  # fmt: skip
    names = ["g", "ts", "e", "seq"]
    order = kernels.sort_indices(keys, sort_keys=[(name, "ascending") for name in names])
    return _ints(pa.chunked_array([order])), group


def _group_codes(table: pa.Table, width: int) -> Ints:
    """A number per row, in the order of its group's values (k0 first) and equal where they
    are: the place of each column's value among that column's distinct values, combined."""
    code = np.zeros(table.num_rows, np.int64)
    for i in range(width):
        encoded = kernels.dictionary_encode(table.column(f"k{i}").combine_chunks())
        # a value's place among the distinct ones (keys are never null: no group without)
        places = _ints(pa.chunked_array([kernels.rank(encoded.dictionary, tiebreaker="first")])) - 1
        radix = len(encoded.dictionary)
        if radix and int(code.max(initial=0)) >= (1 << 62) // radix:
            code = np.unique(code, return_inverse=True)[1].astype(np.int64)  # renumbered
        indices = _ints(pa.chunked_array([kernels.cast(encoded.indices, pa.int64())]))
        code = code * radix + places[indices]
    return code


def _once(table: pa.Table, order: Ints, group: Ints) -> tuple[Ints, bool]:
    """`order` less the rows of an event delivered twice in this run, kept once per group
    (its first in order); and whether no event id was there twice (then none is counted
    twice)."""
    event_ids = table.column("event_id")
    named_rows = kernels.is_valid(event_ids).to_numpy(zero_copy_only=False)
    if not named_rows.any():
        return order, True
    if _no_id_twice(table, named_rows):
        return order, True  # no event id twice, so no (event, group) twice: the usual case
    named = named_rows[order]
    codes = [_codes(event_ids)[order][named], group[order][named]]
    _, firsts = np.unique(_one_code(codes), axis=0, return_index=True)  # first occurrences
    if len(firsts) == len(codes[0]):
        return order, False
    keep = np.logical_not(named)
    keep[np.flatnonzero(named)[firsts]] = True
    return order[keep], False


def _no_id_twice(table: pa.Table, named: npt.NDArray[np.bool_]) -> bool:
    """Whether no event id is in `table` twice (`named`: the rows with one). Known from the
    ids' hashes when they all differ (0.03 CPU-s for 580,000 rows at 4M events, where the
    distinct ids took 0.07-0.2 and the codes of the ids and the groups' columns 0.4); two
    equal hashes may be two ids, so then from the distinct ids."""
    hashes = np.sort(_ints(table.column("id_hash"))[named])
    if not np.any(hashes[1:] == hashes[:-1]):
        return True
    distinct = kernels.count(kernels.unique(table.column("event_id"))).as_py()  # nulls not counted
    return bool(distinct == int(np.count_nonzero(named)))


def _one_code(codes: list[Ints]) -> npt.NDArray[np.int64]:
    """One number per row for the rows' codes together, equal where all of them are: a
    read-heavy rule has 150,000 rows, which `np.unique` sorts as numbers many times faster
    than as rows of numbers. Rows of codes where the numbers would not fit in 63 bits."""
    radices = [int(c.max(initial=-1)) + 2 for c in codes]
    if math.prod(radices) >= 1 << 62:
        return np.stack(codes, axis=1)
    combined = np.zeros(len(codes[0]), np.int64)
    for radix, column in zip(radices, codes, strict=True):
        combined = combined * radix + (column + 1)
    return combined


def _codes(column: pa.ChunkedArray) -> Ints:
    """A number per distinct value of a column (-1 for null), equal where the values are."""
    encoded = kernels.dictionary_encode(column.combine_chunks()).indices
    return _ints(pa.chunked_array([kernels.fill_null(kernels.cast(encoded, pa.int64()), -1)]))


def _runs(rows: _Rows) -> Iterator[tuple[int, int, bool]]:
    """(first row, end, whether it begins a group) of each run of rows of one group and one
    window, in order."""
    n = len(rows.seq)
    new_group = np.zeros(n, np.bool_)
    new_group[0] = True
    new_group[1:] = rows.group[1:] != rows.group[:-1]
    new_run = new_group.copy()
    new_run[1:] |= rows.window[1:] != rows.window[:-1]
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], n)
    yield from zip(starts.tolist(), ends.tolist(), new_group[starts].tolist(), strict=True)


def _judge(
    rows: _Rows, a: int, b: int, windows: dict[int, Window], spec: BaselineSpec, spans: _Spans
) -> tuple[int, int] | None:
    """Count one window's rows `a` to `b` of a group (in time order) into it; returns the row
    at which it crosses its bar, if it does now, and the window's count there. `windows` is
    updated in place."""
    start = int(rows.window[a])
    window = windows.setdefault(start, Window())
    history = _history(windows, start, spans)
    bar = _bar(spec, history) if _warm(history, start, spans) else None
    earlier = window.count  # counted by earlier runs
    first = int(rows.ts[a])  # rows are in time order
    window.first = first if window.first is None else min(window.first, first)
    window.count = earlier + int(rows.before[b] - rows.before[a])
    if bar is None or window.alerted:
        return None
    # the first row whose count reaches the bar (counts only grow), then the first that adds
    # to the count: a window already at its bar alerts at its next counted event
    wanted = bar - earlier + rows.before[a]
    reached = a + int(np.searchsorted(rows.before[a + 1 : b + 1], wanted))
    counting = np.flatnonzero(rows.weight[reached:b] > 0)
    if not len(counting):
        return None
    window.alerted = True
    at = reached + int(counting[0])
    return at, earlier + int(rows.before[at + 1] - rows.before[a])


def _history(windows: dict[int, Window], start: int, spans: _Spans) -> list[tuple[int, int]]:
    """(start, count) of the group's active windows in the history before `start`."""
    begin = start - spans.history
    return sorted((s, w.count) for s, w in windows.items() if begin <= s < start and w.count)


def _warm(history: list[tuple[int, int]], start: int, spans: _Spans) -> bool:
    return bool(history) and history[0][0] <= start - spans.warmup


def _bar(spec: BaselineSpec, history: list[tuple[int, int]]) -> float:
    """The count a window must reach, given the counts of the group's active windows."""
    import statistics  # here: only a baseline rule with history needs it (~1.5 ms to import)

    counts = [c for _, c in history]
    mean = statistics.fmean(counts)
    bar = float(spec.min_count)
    if spec.factor is not None:
        bar = max(bar, spec.factor * mean)
    if spec.deviations is not None:
        bar = max(bar, mean + spec.deviations * statistics.pstdev(counts))
    return math.ceil(bar - 1e-9) if bar > spec.min_count else bar


def _candidate(
    key: tuple[tuple[str, str | None], ...], rows: _Rows, a: int, at: int, count: int,
    window: Window,
) -> Candidate:
    """The alert of a window: the event at `at` crossed its bar, the window then counting
    `count`; its evidence is the window's events of this run up to it."""
    evidence = rows.seq[a : at + 1].tolist()
    first = int(rows.ts[a])
    return Candidate(
        key,
        evidence,
        [rows.event_id(at)],  # the event that crossed the bar identifies the alert
        time=int(rows.ts[at]),
        first_time=window.first if window.first is not None else first,
        absorbed=count - len(evidence),  # what the window counted beyond this evidence
    )


def _ints(column: pa.ChunkedArray) -> Ints:
    values: Ints = column.to_numpy().astype(np.int64, copy=False)
    return values
