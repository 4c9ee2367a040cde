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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail.schema import BY_NAME, Kind
from trailhound.engine.codes import KEY_LIMIT, combined, dictionary_codes
from trailhound.engine.evidence import LIMIT
from trailhound.engine.filtering import ITEM, RULE_ID, TS
from trailhound.engine.prefilter import columns_of
from trailhound.rules.model import BaselineSpec, CorrelationSpec, NewTermsSpec, Rule

_SINGLE_VALUED = (Kind.KEYWORD, Kind.IP)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class _Terms:
    fields: tuple[str, ...]
    history: int  # µs


@dataclass(frozen=True, slots=True)
class _Windows:
    fields: tuple[str, ...]
    window: int  # µs


@dataclass(frozen=True, slots=True)
class _Facts:
    sources: tuple[tuple[str, ...] | None, ...]  # per source step: its columns (None: keep all)
    remember: int  # µs


@dataclass(frozen=True, slots=True)
class Masks:
    store: np.ndarray  # bool per matched row
    evidence: np.ndarray  # bool per matched row


@dataclass(frozen=True, slots=True)
class Eligibility:
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

    @property
    def reads(self) -> frozenset[str]:
        """The event columns `masks` reads, besides the matcher's own (rule, step, time,
        item)."""
        fields = {f for spec in self.terms.values() for f in spec.fields}
        fields |= {f for spec in self.windows.values() for f in spec.fields}
        fields |= {c for facts in self.facts.values() for cs in facts.sources if cs for c in cs}
        return frozenset(fields | {"event.id"})

    def masks(self, matched: pa.Table) -> Masks:
        store = np.ones(matched.num_rows, dtype=bool)
        evidence = np.ones(matched.num_rows, dtype=bool)
        rows_of = _rows_by_rule(matched)
        for rule_id, spec in self.terms.items():
            rows = rows_of(rule_id)
            if len(rows):
                part = _part(matched, rows, (*spec.fields, TS, "event.id", ITEM))
                _thin(part, spec, rows, store, evidence)
        for rule_id, windows in self.windows.items():
            rows = rows_of(rule_id)
            if len(rows):
                part = _part(matched, rows, (*windows.fields, TS, "event.id"))
                _first_in_window(part, windows, rows, evidence)
        for rule_id, facts in self.facts.items():
            rows = rows_of(rule_id)
            read = ["step", TS, *{c for columns in facts.sources if columns for c in columns}]
            if len(rows) and set(read) <= set(matched.column_names):
                _thin_sources(_part(matched, rows, read), facts, rows, store, evidence)
        return Masks(store, evidence)


def _facts(spec: CorrelationSpec) -> _Facts:
    sources = []
    for source in spec.facts:
        key, value = columns_of((source.key,)), columns_of((source.value,))
        # a field no column holds reads as missing: such a source is left whole
        sources.append(tuple(sorted(key)) + tuple(sorted(value)) if key and value else None)
    return _Facts(tuple(sources), spec.remember // _US)


def _thin_sources(
    part: pa.Table, spec: _Facts, rows: np.ndarray, store: np.ndarray, evidence: np.ndarray
) -> None:
    """Clear `evidence` for the fact-source rows of one correlation rule (`part`, at `rows`),
    and `store` for those its facts do not need (see above)."""
    steps = part.column("step").to_numpy(zero_copy_only=False)
    evidence[rows[steps < len(spec.sources)]] = False
    for step, columns in enumerate(spec.sources):
        mine = np.flatnonzero(steps == step)
        if columns is None or not len(mine):
            continue
        source = part.take(pa.array(mine, pa.int64()))
        values, unsure = _single_values(source, columns)
        sure = np.flatnonzero(~unsure)
        if len(sure) < 3:
            continue  # a fact's first and last rows always stay
        terms = _codes([v.take(pa.array(sure, pa.int64())) for v in values]).to_numpy()
        ts = source.column(TS).to_numpy()[sure]
        order = np.lexsort((ts, terms))
        kept = _skeleton(terms[order], ts[order], spec.remember)
        store[rows[mine[sure[order[~kept]]]]] = False


def _single_values(part: pa.Table, columns: tuple[str, ...]) -> tuple[list[pa.Array], np.ndarray]:
    """Each column's value per row (a list's only item), and which rows have a null, an
    empty list or a longer one."""
    values, unsure = [], np.zeros(part.num_rows, dtype=bool)
    for name in columns:
        column = part.column(name).combine_chunks()
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            single = pc.fill_null(pc.equal(pc.list_value_length(column), 1), False)
            unsure |= ~single.to_numpy(zero_copy_only=False)
            nulls = pa.nulls(len(column), column.type)
            column = pc.list_element(pc.if_else(single, column, nulls), 0)
        unsure |= pc.is_null(column).to_numpy(zero_copy_only=False)
        values.append(column)
    return values, unsure


def _single(fields: tuple[str, ...]) -> bool:
    return all(f in BY_NAME and BY_NAME[f].kind in _SINGLE_VALUED for f in fields)


def _part(matched: pa.Table, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
    """These rows of `matched`, with only these of its columns: a rule's rows can be most of
    a batch, and taking every column of them cost more than thinning them. The matcher gives
    a filter's rows together, so a rule's rows are mostly one run: then a slice, not a copy."""
    chosen = matched.select(list(dict.fromkeys(columns)))
    first = int(rows[0])
    if int(rows[-1]) - first + 1 == len(rows):  # sorted and distinct, so the whole run
        return chosen.slice(first, len(rows))
    return chosen.take(pa.array(rows, pa.int64()))


def _rows_by_rule(matched: pa.Table) -> Callable[[str], np.ndarray]:
    """The rows of `matched` that a rule id's rule matched, as a function of the rule id: the
    ids are coded once, where comparing every row's id with each thinned rule's cost a
    batch about 0.2 ms a rule."""
    coded = matched.column(RULE_ID).combine_chunks().dictionary_encode()
    codes = pc.fill_null(coded.indices, -1).to_numpy(zero_copy_only=False)
    position = {rule_id: n for n, rule_id in enumerate(coded.dictionary.to_pylist())}

    def rows_of(rule_id: str) -> np.ndarray:
        code = position.get(rule_id)
        return np.zeros(0, np.int64) if code is None else np.flatnonzero(codes == code)

    return rows_of


def _first_in_window(
    part: pa.Table, spec: _Windows, rows: np.ndarray, evidence: np.ndarray
) -> None:
    """Clear `evidence` for the rows of one baseline rule (`part`, at `rows`) that come after
    the first `LIMIT` distinct events of their group and window, or belong to no group."""
    keys = [part.column(f) for f in spec.fields]
    groupless = np.zeros(len(rows), dtype=bool)
    for key in keys:
        groupless |= pc.is_null(key).to_numpy(zero_copy_only=False)
    ts = part.column(TS).to_numpy()
    ids = part.column("event.id")
    table = pa.table({"group": _codes(keys), "window": ts - ts % spec.window, "ts": ts,
                      "id": ids, "n": np.arange(len(rows))})  # fmt: skip
    order = pc.sort_indices(
        table, sort_keys=[(name, "ascending") for name in ("group", "window", "ts", "id", "n")]
    ).to_numpy()
    # in this order a (group, window) segment is a run of rows, so it is numbered by where the
    # runs start, and an event by its segment and id: no re-coding of the joined columns
    group = table.column("group").to_numpy()[order]
    windows = table.column("window").to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, (group[1:] != group[:-1]) | (windows[1:] != windows[:-1])])
    segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(rows)]))
    id_codes, most = dictionary_codes(ids)
    event = segment * (most + 1) + id_codes.astype(np.int64)[order]
    # a row is a new event when its (group, window, id) was not seen earlier in the order;
    # rows without an id are each their own event (the evaluator never folds them)
    fresh = np.zeros(len(rows), dtype=bool)
    fresh[np.unique(event, return_index=True)[1]] = True
    fresh |= pc.is_null(ids).to_numpy(zero_copy_only=False)[order]
    before = np.cumsum(fresh) - fresh  # new events earlier in the order, over all segments
    lengths = np.diff(np.r_[starts, len(rows)])
    before -= np.repeat(before[starts], lengths)
    late = before >= LIMIT
    evidence[rows[order[late]]] = False
    evidence[rows[groupless]] = False


def _thin(
    part: pa.Table, spec: _Terms, rows: np.ndarray, store: np.ndarray, evidence: np.ndarray
) -> None:
    """Clear `store` and `evidence` for the rows of one rule (`part`, at `rows`) as above."""
    keys = [part.column(f) for f in spec.fields]
    termless = np.zeros(len(rows), dtype=bool)
    for key in keys:
        termless |= pc.is_null(key).to_numpy(zero_copy_only=False)
    # the new_terms evaluator's order (nulls sort last, as in DuckDB)
    table = pa.table({"term": _codes(keys), "ts": part.column(TS), "id": part.column("event.id"),
                      "item": part.column(ITEM)})  # fmt: skip
    order = pc.sort_indices(
        table,
        sort_keys=[("term", "ascending"), ("ts", "ascending"), ("id", "ascending"),
                   ("item", "ascending")],
    ).to_numpy()  # fmt: skip
    terms = table.column("term").to_numpy()[order]
    ts = table.column("ts").to_numpy()[order]
    near = np.zeros(len(rows), dtype=bool)
    near[1:] = (terms[1:] == terms[:-1]) & (ts[1:] - ts[:-1] <= spec.history)
    kept = _skeleton(terms, ts, spec.history)
    evidence[rows[order[near]]] = False
    evidence[rows[termless]] = False
    dropped = ~kept | termless[order]
    dropped[int(np.argmin(ts))] = False  # the rule's earliest row sets its learning clock
    store[rows[order[dropped]]] = False


def _skeleton(terms: np.ndarray, ts: np.ndarray, history: int) -> np.ndarray:
    """Which rows (sorted by term, then order) stay: a row goes when the row after it lies
    within `history` of the last row that stays; a term's first and last rows always stay.

    From a row that stays, the next to stay is the row before the first one beyond
    `history` of it (or the row right after it), so only the rows that stay are walked."""
    kept = np.zeros(len(ts), dtype=bool)
    if not len(ts):
        return kept
    starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
    ends = np.r_[starts[1:], len(ts)]
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
    term = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(ts)]))
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


def _codes(columns: Sequence[pa.ChunkedArray | pa.Array]) -> pa.Array:
    """One integer per distinct combination of the columns' values, ordered as the
    combinations' dictionary positions (each column's values by first appearance, nulls
    last), column after column."""
    return pa.array(combined((dictionary_codes(c) for c in columns), len(columns[0])), pa.int64())
