"""Which matched rows a batch must store, and which may become an alert's evidence.

A new_terms rule such as "activity from a new country" matches nearly every event, yet what
decides it is, per term, whether an earlier row lies within the history window. So a batch
stores, per term, only enough rows to answer that for any row, from this batch or any other:

- `store`: a row between two stored rows of its term (in the evaluator's order: time, event
  id, arrival) that lie at most the history window apart is left out. Any row that this row
  would have preceded within the window is then preceded within the window by one of those two,
  so no term becomes new that was not, and none stops being new. The first and last row of a
  term are always stored (they set the term's first and last sighting), and so is the rule's
  earliest row (its learning period counts from it).
- `evidence`: a row whose term occurred in the batch at most the history window before it is
  never new, so its whole record need not be kept for evidence.

A baseline rule such as "unusual read volume" also matches every read, and its alert shows the
first `evidence.LIMIT` rows of its group's window (in the evaluator's order: time, event id,
arrival; an event delivered twice counted once). Those are among the first `LIMIT` distinct
events of that group and window in some batch, so only these keep their records as evidence.
Every row is still stored: all of them count.

A correlation rule's fact sources (the KMS calls DynamoDB makes for a table, one for nearly
every read of an encrypted table) teach facts, (key, value) pairs, and only the last step's
events alert. Its facts are read as sightings within `remember` before an alerting event, and
as each fact's first and last sighting once stored; so a source row is thinned as a new term's
row is: between two stored rows of its fact at most `remember` apart it is left out, and the
first and last of each fact are stored. A fact here is a source's exact key and value columns
(a list of one value counts as that value); a row with a null or a longer list is always
stored. No source row is ever evidence: an alert shows its alerting event.

Other rule types keep every row, and may show any as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pyarrow as pa
from msgspec import Struct, field

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.schema import BY_NAME, Kind
from trailhound.engine.codes import KEY_LIMIT, CodedColumns, combined, dictionary_codes
from trailhound.engine.evidence import LIMIT
from trailhound.engine.filtering import ITEM, RULE_ID, STEP, TS
from trailhound.engine.prefilter import columns_of
from trailhound.rules.model import BaselineSpec, CorrelationSpec, NewTermsSpec, Rule

_SINGLE_VALUED = (Kind.KEYWORD, Kind.IP)
_US = timedelta(microseconds=1)
# Structs rather than dataclasses: a scan imports this module, and a Struct is made in C where
# a frozen dataclass compiles each of its methods (~0.5 ms a class of every run's start-up)


class _Terms(Struct, frozen=True):
    fields: tuple[str, ...]
    history: int  # µs


class _Windows(Struct, frozen=True):
    fields: tuple[str, ...]
    window: int  # µs


class _Facts(Struct, frozen=True):
    sources: tuple[tuple[str, ...] | None, ...]  # per source step: its columns (None: keep all)
    remember: int  # µs


class Masks(Struct, frozen=True):
    store: np.ndarray  # bool per matched row
    evidence: np.ndarray  # bool per matched row


class Matched(Struct, frozen=True):
    """A batch's matched rows as thinning reads them: each row's rule (a place in `rules`),
    step, time (epoch µs) and evidence item, and, for its event's columns, its row `at` in
    `events`. A stage reads the events' columns from its batch, before any is taken at the
    matched rows: a row per match is more rows than the batch has events, and coding them
    there cost more than thinning's own work."""

    rules: Sequence[str]
    rule: np.ndarray
    step: np.ndarray
    ts: np.ndarray
    item: np.ndarray
    at: np.ndarray
    events: CodedColumns

    @classmethod
    def of_table(cls, matched: pa.Table) -> Matched:
        """The rows of a matcher's table, whose own columns are the events'."""
        coded = kernels.dictionary_encode(matched.column(RULE_ID).combine_chunks())
        rule = kernels.fill_null(coded.indices, -1).to_numpy(zero_copy_only=False)
        return cls(
            coded.dictionary.to_pylist(), rule, _numbers(matched, STEP), _numbers(matched, TS),
            _numbers(matched, ITEM), np.arange(matched.num_rows), CodedColumns(matched),
        )  # fmt: skip

    def rows_of(self, rule_id: str) -> np.ndarray:
        """The rows a rule matched, in order."""
        if rule_id not in self.rules:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.rule == self.rules.index(rule_id))


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).combine_chunks().to_numpy())


class Eligibility(Struct, frozen=True):
    """The new_terms rules whose rows can be thinned: those whose terms are single values
    (a multi-valued field makes one term per value, and a row may matter for any of them)."""

    terms: dict[str, _Terms]
    windows: dict[str, _Windows] = field(default_factory=dict)  # baseline rules
    facts: dict[str, _Facts] = field(default_factory=dict)  # correlation rules

    @classmethod
    def build(cls, rules: Sequence[Rule]) -> Eligibility:
        terms = {
            rule.rule_id: _Terms(rule.spec.fields, rule.spec.history_window // _US)
            for rule in rules
            if rule.runs and isinstance(rule.spec, NewTermsSpec) and _single(rule.spec.fields)
        }
        windows = {
            rule.rule_id: _Windows(rule.spec.fields, rule.spec.window // _US)
            for rule in rules
            if rule.runs and isinstance(rule.spec, BaselineSpec) and _single(rule.spec.fields)
        }
        facts = {
            rule.rule_id: _facts(rule.spec)
            for rule in rules
            if rule.runs and isinstance(rule.spec, CorrelationSpec)
        }
        return cls(terms, windows, facts)

    def masks(self, matched: pa.Table) -> Masks:
        return self.masks_of(Matched.of_table(matched))

    def masks_of(self, matched: Matched) -> Masks:
        store = np.ones(len(matched.rule), dtype=bool)
        evidence = np.ones(len(matched.rule), dtype=bool)
        for rule_id, spec in self.terms.items():
            rows = matched.rows_of(rule_id)
            if len(rows):
                _thin(matched, spec, rows, store, evidence)
        for rule_id, windows in self.windows.items():
            rows = matched.rows_of(rule_id)
            if len(rows):
                _first_in_window(matched, windows, rows, evidence)
        for rule_id, facts in self.facts.items():
            rows = matched.rows_of(rule_id)
            read = {c for columns in facts.sources if columns for c in columns}
            if len(rows) and all(matched.events.has(name) for name in read):
                _thin_sources(matched, facts, rows, store, evidence)
        return Masks(store, evidence)


def _facts(spec: CorrelationSpec) -> _Facts:
    sources = []
    for source in spec.facts:
        key, value = columns_of((source.key,)), columns_of((source.value,))
        # a field no column holds reads as missing: such a source is left whole
        sources.append(tuple(sorted(key)) + tuple(sorted(value)) if key and value else None)
    return _Facts(tuple(sources), spec.remember // _US)


def _thin_sources(
    matched: Matched, spec: _Facts, rows: np.ndarray, store: np.ndarray,
    evidence: np.ndarray,
) -> None:  # fmt: skip
    """Clear `evidence` for the fact-source rows of one correlation rule (at `rows`), and
    `store` for those its facts do not need (see above)."""
    steps = matched.step[rows]
    evidence[rows[steps < len(spec.sources)]] = False
    for step, names in enumerate(spec.sources):
        mine = rows[steps == step]
        if names is None or not len(mine):
            continue
        singles = [matched.events.single(name) for name in names]
        sure = np.ones(len(mine), dtype=bool)
        for codes, none in singles:
            sure &= codes[matched.at[mine]] != none
        mine = mine[sure]
        if len(mine) < 3:
            continue  # a fact's first and last rows always stay
        at = matched.at[mine]
        terms = combined(((codes[at], none) for codes, none in singles), len(mine))
        ts = matched.ts[mine]
        order = np.lexsort((ts, terms))
        kept = _skeleton(terms[order], ts[order], spec.remember)
        store[mine[order[~kept]]] = False


def _single(fields: tuple[str, ...]) -> bool:
    return all(f in BY_NAME and BY_NAME[f].kind in _SINGLE_VALUED for f in fields)


def _first_in_window(
    matched: Matched, spec: _Windows, rows: np.ndarray, evidence: np.ndarray
) -> None:
    """Clear `evidence` for the rows of one baseline rule (at `rows`) that come after the
    first `LIMIT` distinct events of their group and window, or belong to no group."""
    at = matched.at[rows]
    groupless = _any_null(matched.events, spec.fields, at)
    group = matched.events.key(spec.fields)[at]
    ts = matched.ts[rows]
    window = ts - ts % spec.window
    # the evaluator's order: (group, window) segments, in each by time and id, then as given;
    # the segments' own order does not matter
    order = _ordered(matched, [group, window, ts], rows)
    # in this order a (group, window) segment is a run of rows, so it is numbered by where the
    # runs start, and an event by its segment and id: no re-coding of the joined columns
    group, window = group[order], window[order]
    starts = np.flatnonzero(_led((group[1:] != group[:-1]) | (window[1:] != window[:-1])))
    lengths = np.diff(np.append(starts, len(rows)))
    segment = np.repeat(np.arange(len(starts)), lengths)
    # ids coded at this rule's rows alone: no other rule codes them, and coding a batch's
    # (all distinct) cost ~4x coding a third of them
    ids, unnamed = dictionary_codes(matched.events.at("event.id", at[order]))
    event = segment * (unnamed + 1) + ids.astype(np.int64)
    # a row is a new event when its (group, window, id) was not seen earlier in the order;
    # rows without an id are each their own event (the evaluator never folds them)
    fresh = np.zeros(len(rows), dtype=bool)
    fresh[np.unique(event, return_index=True)[1]] = True
    fresh |= ids == unnamed
    before = np.cumsum(fresh) - fresh  # new events earlier in the order, over all segments
    before -= np.repeat(before[starts], lengths)
    late = before >= LIMIT
    evidence[rows[order[late]]] = False
    evidence[rows[groupless]] = False


def _thin(
    matched: Matched, spec: _Terms, rows: np.ndarray, store: np.ndarray,
    evidence: np.ndarray,
) -> None:  # fmt: skip
    """Clear `store` and `evidence` for the rows of one rule (at `rows`) as above."""
    at = matched.at[rows]
    termless = _any_null(matched.events, spec.fields, at)
    terms = matched.events.key(spec.fields)[at]
    ts = matched.ts[rows]
    # the new_terms evaluator's order within a term (nulls last, as in DuckDB); the terms' own
    # order matters only to which of several earliest rows is kept, chosen below
    order = _ordered(matched, [terms, ts], rows, by_item=True)
    terms, ts = terms[order], ts[order]
    near = np.zeros(len(rows), dtype=bool)
    near[1:] = (terms[1:] == terms[:-1]) & (ts[1:] - ts[:-1] <= spec.history)
    kept = _skeleton(terms, ts, spec.history)
    evidence[rows[order[near]]] = False
    evidence[rows[termless]] = False
    dropped = ~kept | termless[order]
    dropped[_earliest(matched.events, spec.fields, at, order, ts)] = False
    store[rows[order[dropped]]] = False


def _earliest(
    events: CodedColumns, fields: tuple[str, ...], at: np.ndarray, order: np.ndarray,
    ts: np.ndarray,
) -> int:  # fmt: skip
    """Where in `order` the rule's earliest row is, which sets its learning clock. Of rows
    equally early, the one whose term comes first when each field's values are numbered by
    first appearance among the rule's rows (nulls last), then by id and item, as it always
    was: so the same row is stored."""
    tied = np.flatnonzero(ts == ts.min())
    if len(tied) == 1:
        return int(tied[0])
    keys = []
    for name in fields:
        codes, last = events.codes(name)
        mine = codes[at]
        values, first = np.unique(mine, return_index=True)
        place = np.where(values == last, len(at), first)
        keys.append(place[np.searchsorted(values, mine[order[tied]])])
    # `tied` is in (term, id, item) order already: lexsort's last key leads, ties keep it
    return int(tied[np.lexsort(keys[::-1])[0]])


def _ordered(
    matched: Matched, keys: list[np.ndarray], rows: np.ndarray, *, by_item: bool = False
) -> np.ndarray:
    """The positions of `rows` sorted by `keys` (the first leading), then by event id (nulls
    last) and, `by_item`, by evidence item, then as given. Rows tie on the keys seldom, and
    ranking every row's id (a sort of text) cost more than all the rest of thinning: so ids
    are compared only within runs of rows that tie."""
    order = np.lexsort(keys[::-1])
    same = np.ones(max(len(order) - 1, 0), dtype=bool)
    for key in keys:
        ordered = key[order]
        same &= ordered[1:] == ordered[:-1]
    if not same.any():
        return order
    tied = np.flatnonzero(np.append(same, False) | _led(same, first=False))
    run = np.cumsum(_led(~same))[tied]  # runs are in order, so sorting keeps them put
    mine = rows[order[tied]]
    table = pa.table({"run": run, "id": matched.events.at("event.id", matched.at[mine]),
                      "item": matched.item[mine]})  # fmt: skip
    names = ("run", "id", "item") if by_item else ("run", "id")
    within = kernels.sort_indices(table, sort_keys=[(name, "ascending") for name in names])
    order[tied] = order[tied][within.to_numpy()]
    return order


def _led(flags: np.ndarray, *, first: bool = True) -> np.ndarray:
    """`flags` with `first` before them. (`np.r_` said the same at ~15 µs a call, a score of
    calls a batch.)"""
    return np.concatenate((np.array([first]), flags))


def _any_null(events: CodedColumns, fields: tuple[str, ...], at: np.ndarray) -> np.ndarray:
    missing = np.zeros(len(at), dtype=bool)
    for name in fields:
        missing |= events.nulls(name)[at]
    return missing


def _skeleton(terms: np.ndarray, ts: np.ndarray, history: int) -> np.ndarray:
    """Which rows (sorted by term, then order) stay: a row goes when the row after it lies
    within `history` of the last row that stays; a term's first and last rows always stay.

    From a row that stays, the next to stay is the row before the first one beyond
    `history` of it (or the row right after it), so only the rows that stay are walked."""
    kept = np.zeros(len(ts), dtype=bool)
    if not len(ts):
        return kept
    starts = np.flatnonzero(_led(terms[1:] != terms[:-1]))
    ends = np.append(starts[1:], len(ts))
    beyond = _first_beyond(starts, ts, history)
    # a term whose rows all lie within `history` of its first keeps its first and last: most
    # terms of a batch, walked here in one step
    short = beyond[starts] == ends
    kept[starts[short]] = True
    kept[ends[short] - 1] = True
    after = np.maximum(np.arange(1, len(ts) + 1), beyond - 1).tolist()
    stay = []
    for start, end in zip(starts[~short].tolist(), ends[~short].tolist(), strict=True):
        j = start
        stay.append(j)
        while j < end - 1:
            j = after[j]
            stay.append(j)
    kept[stay] = True
    return kept


def _first_beyond(starts: np.ndarray, ts: np.ndarray, history: int) -> np.ndarray:
    """For each row (sorted by term, then time; terms begin at `starts`), the first row of
    its term later than `history` after it, or the term's end: one search over (term, time)
    made one number, times made dense where term x time would not fit in 63 bits."""
    term = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(ts))))
    ts = ts.astype(np.int64)
    low = int(ts.min())
    span = int(ts.max()) - low + history + 1
    if len(starts) * span < KEY_LIMIT:
        at, limit = ts - low, ts - low + history
    else:
        times = np.unique(ts)
        at = np.searchsorted(times, ts)
        limit = np.searchsorted(times, ts + history, side="right") - 1
        span = len(times) + 1
    key = term * span + at
    found: np.ndarray = np.searchsorted(key, term * span + limit, side="right")
    return found
