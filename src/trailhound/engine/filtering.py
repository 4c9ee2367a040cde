"""The filter stage: which rows of a batch each rule (or sequence step) matches.

This is a pure function of a batch, so it runs wherever the batch is: in the process that
keeps the state, or in a worker that ships only the matched rows back. `FilterPlan` holds
each filter as a typed SQL tree that any engine renders in its dialect; `Matcher` applies it
in DuckDB.

A rule's filter reads a handful of columns, and a trail repeats the same few combinations of
their values (provider, action, outcome, country...) over and over. So `Matcher` evaluates each
filter once per distinct combination, not once per row, and remembers the answer for later
batches; each filter also remembers its own answers by the values of only the columns it
reads, so a combination new in one column goes to DuckDB only for the filters that read it
and could pass on it. A filter of plain tests only (text equalities, IS NULL, a list holding
a text or any: engine/plain_filters.py) is answered in Python from the combination's values;
the others asked about a batch's new combinations run together in DuckDB, in one statement
over them: on a few dozen combinations a statement's own cost is most of a filter's. The
time window (`--since`, `--until`) is the one condition on a per-event value, and is applied
per row.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound.engine.codes import combined, dictionary_codes, list_codes
from trailhound.engine.plain_filters import Plain, Test, bound, guard_form, plain_form
from trailhound.engine.prefilter import (
    ACTION,
    PROVIDER,
    Selection,
    ast_columns,
    columns_of,
    filter_asts,
    pairs_of,
)
from trailhound.errors import TrailhoundError, query_interrupted
from trailhound.numpy_arrow import arrow_array
from trailhound.rules.model import Rule, RuleException

if TYPE_CHECKING:
    from sqlglot import exp

# sqlglot (its import and a dialect's generator: about 0.2 s of CPU) is loaded only to build
# or render a filter's tree; a filter prepared ahead of time (`PreparedFilter`) needs neither.

# The columns a matched row carries besides the event's own.
RULE_ID, STEP, TS, ITEM = "rule_id", "step", "ts", "evidence_item"
_KEY = "__key"
_PAIRS = frozenset({PROVIDER, ACTION})  # what a filter's (provider, action) pairs read
Answer = TypeVar("Answer")
# Remembered combinations: at most this many, and none holding a long text (a request's
# parameters are nearly always new, so remembering them would only cost memory).
_REMEMBER = 65_536
_LONG_TEXT = 256


class RuleFilter:
    """One rule's (or sequence step's) filter: a typed SQL tree over the event columns that
    is never NULL, rendered per dialect on first use and remembered.

    A filter sent to a worker process travels as its DuckDB text, which the worker runs, and
    its tree as pickled bytes, loaded only if the worker asks for another dialect: loading
    the trees and rendering them again cost a worker 150 to 200 ms for the pack and
    Elastic's rules together, where reading the texts costs under a millisecond.
    """

    __slots__ = ("_blob", "_sql", "_tree", "guard", "pairs", "plain", "reads", "rule_id", "step")

    def __init__(
        self,
        rule_id: str,
        step: int,
        tree: exp.Expr | None,
        pairs: Selection,
        reads: frozenset[str] | None = None,
    ) -> None:
        self.rule_id = rule_id
        self.step = step
        self.pairs = pairs  # (provider, action) outside which the filter is false
        self.reads = reads  # the columns it reads, None where not known (any of the plan's)
        self._tree: exp.Expr | None = tree
        # the filter answered in Python (engine/plain_filters.py), None where DuckDB must
        self.plain: Plain | None = None if tree is None else plain_form(tree)
        # without one: plain tests it cannot pass without, to rule groups out in Python
        self.guard: Plain | None = None if tree is None or self.plain else guard_form(tree)
        self._blob = b""
        self._sql: dict[str, str] = {}

    @property
    def tree(self) -> exp.Expr:
        if self._tree is None:
            self._tree = pickle.loads(self._blob)
        return self._tree

    def sql(self, dialect: str) -> str:
        """The filter as `dialect`'s SQL (engine/dialects.py); `Unexpressible` when the
        dialect has no way to say it."""
        text = self._sql.get(dialect)
        if text is None:
            from trailhound.engine.dialects import render

            text = self._sql[dialect] = render(self.tree, dialect)
        return text

    @property
    def where(self) -> str:
        """The filter as DuckDB SQL."""
        return self.sql("duckdb")

    def with_tree(self, tree: exp.Expr) -> RuleFilter:
        """This filter with another tree, which may read any column."""
        return RuleFilter(self.rule_id, self.step, tree, self.pairs)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if not self._blob:  # kept: a pool pickles the plan once per worker it starts
            self._blob = pickle.dumps(self.tree, protocol=pickle.HIGHEST_PROTOCOL)
        shipped = (self.rule_id, self.step, self.pairs, self.where, self._blob, self.reads)
        return _shipped, (*shipped, self.plain, self.guard)

    def __repr__(self) -> str:
        return f"RuleFilter({self.rule_id!r}, {self.step}, {self.where!r})"


def _shipped(
    rule_id: str,
    step: int,
    pairs: Selection,
    where: str,
    blob: bytes,
    reads: frozenset[str] | None,
    plain: Plain | None,
    guard: Plain | None,
) -> RuleFilter:
    """A filter as a worker receives it: its DuckDB text and plain forms ready, its tree
    still bytes."""
    received = RuleFilter(rule_id, step, None, pairs, reads)
    received._blob, received._sql = blob, {"duckdb": where}
    received.plain, received.guard = plain, guard
    return received


class PreparedFilter(Struct, frozen=True):
    """A rule's filter (one sequence step's) built and rendered ahead of time, for a scan
    that should not pay for sqlglot: its DuckDB text and its tree as pickled bytes, with the
    digest (`filter_key`) of the rule's filter as it was built from. A rule carries these in
    `Rule.prepared` (`trailhound.rules.cache.with_prepared_filters` puts them there);
    `FilterPlan.build` takes them when the digest still matches and no exception applies."""

    key: str
    where: str
    tree: bytes
    plain: Plain | None = None  # `RuleFilter.plain`
    guard: Plain | None = None  # `RuleFilter.guard`


def filter_key(rule: Rule) -> str:
    """A digest of everything a rule's filters are built from (its query, steps, fact
    sources and parameters), without exceptions."""
    asts = pickle.dumps(filter_asts(rule), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(asts).hexdigest()[:32]


# Two moments a filter is built for, to tell a filter that reads the time (date math in a
# range, `@timestamp < now-1d`) from one that does not: only the latter is prepared.
_MOMENTS = (datetime(2001, 1, 1, tzinfo=UTC), datetime(2031, 7, 9, 13, 5, tzinfo=UTC))


def prepare_filters(rule: Rule) -> tuple[PreparedFilter, ...]:
    """The rule's filters, prepared (see `PreparedFilter`); none when they depend on the time
    of the run or cannot be built."""
    try:
        built = [_rule_filters(rule, (), moment) for moment in _MOMENTS]
    except TrailhoundError:
        return ()
    texts = [[f.where for f in filters] for filters in built]
    if texts[0] != texts[1]:
        return ()
    key = filter_key(rule)
    return tuple(
        PreparedFilter(
            key, f.where, pickle.dumps(f.tree, protocol=pickle.HIGHEST_PROTOCOL), f.plain, f.guard
        )
        for f in built[0]
    )


def _prepared(rule: Rule) -> list[RuleFilter] | None:
    """The rule's filters from `rule.prepared`, when they were prepared from this filter."""
    prepared: tuple[Any, ...] = rule.prepared
    if not prepared or not all(isinstance(p, PreparedFilter) for p in prepared):
        return None
    if any(p.key != prepared[0].key for p in prepared) or prepared[0].key != filter_key(rule):
        return None
    asts = filter_asts(rule)
    if len(asts) != len(prepared):
        return None
    return [
        _shipped(
            rule.rule_id,
            step,
            Selection(pairs_of(ast)),
            p.where,
            p.tree,
            ast_columns(ast),
            p.plain,
            p.guard,
        )
        for step, (ast, p) in enumerate(zip(asts, prepared, strict=True))
    ]


@dataclass(frozen=True, slots=True)
class FilterPlan:
    filters: tuple[RuleFilter, ...]
    columns: tuple[str, ...]  # every column some filter reads
    since: datetime | None = None
    until: datetime | None = None
    # (rule id, why) of the rules whose filter could not be built: left out, the rest run
    failed: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(
        cls,
        rules: Sequence[Rule],
        *,
        exceptions: Sequence[RuleException] = (),
        now: datetime,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> FilterPlan:
        """One filter per enabled rule (per step for sequences), with the exceptions that
        apply to it folded in."""
        filters: list[RuleFilter] = []
        columns: set[str] = set()
        failed: list[tuple[str, str]] = []
        for rule in rules:
            if not rule.runs:
                continue
            excused = _applicable(rule, exceptions, now)
            try:
                built = (None if excused else _prepared(rule)) or _rule_filters(rule, excused, now)
            except TrailhoundError as exc:  # e.g. a time no date math reads, known only now
                failed.append((rule.rule_id, exc.message))
                continue
            for rule_filter in built:
                filters.append(rule_filter)
                columns |= rule_filter.reads or frozenset()
        return cls(
            tuple(filters), tuple(sorted(columns | _PAIRS)), since, until,
            tuple(failed),
        )  # fmt: skip


def _rule_filters(
    rule: Rule, excused: Sequence[RuleException], now: datetime
) -> list[RuleFilter]:
    """The rule's filters (one per sequence step), each with the columns it reads."""
    from sqlglot import exp

    from trailhound.engine.exceptions import exception_predicate
    from trailhound.engine.predicates import compile_predicate

    built: list[RuleFilter] = []
    for step, ast in enumerate(filter_asts(rule)):
        # the trees are fresh and used once: sqlglot need not copy them
        pred: exp.Expr = exp.paren(compile_predicate(ast, now=now), copy=False)
        for e in excused:
            excused_here = exp.paren(exception_predicate(e), copy=False)
            pred = exp.and_(pred, exp.not_(excused_here, copy=False), copy=False)
        read = ast_columns(ast) | columns_of(c.field for e in excused for c in e.conditions)
        built.append(RuleFilter(rule.rule_id, step, pred, Selection(pairs_of(ast)), read))
    return built


def _applicable(
    rule: Rule, exceptions: Sequence[RuleException], now: datetime
) -> list[RuleException]:
    return [
        e
        for e in (*rule.exceptions, *exceptions)
        if (not e.rule_ids or rule.rule_id in e.rule_ids or rule.name in e.rule_ids)
        and (e.expires is None or e.expires >= now.date())
    ]


class Matcher:
    """Applies a `FilterPlan` to batches, remembering the answer for each combination of the
    values the filters read. `con` is a connection (or cursor) to filter on and nothing else:
    the matcher turns its session's optimizer off."""

    def __init__(self, plan: FilterPlan, con: duckdb.DuckDBPyConnection) -> None:
        self.plan = plan
        self.con = con
        self._known: dict[tuple[Any, ...], tuple[int, ...]] = {}
        # per filter: whether it passes, by the values of the columns it reads (`_reads`)
        self._known_by_filter: list[dict[tuple[Any, ...], bool]] = [{} for _ in plan.filters]
        self._reads_of: dict[int, tuple[int, ...]] = {}
        # per filter with a plain form: that form as a test of a group's key; per filter with
        # a guard instead, the guard as one
        self._tests = _bound(plan, [f.plain for f in plan.filters])
        self._guards = _bound(plan, [f.guard for f in plan.filters])
        # names the groups this matcher asks about apart from others' on `con`
        self._name = f"_filter_{id(self):x}"
        self._optimizer_off = False
        self._label_arrays: tuple[pa.Array, pa.Array] | None = None
        # rule id -> why its filter failed; the rule is left out for the rest of the run, the
        # other rules go on (a rule that cannot run must not stop the rest)
        self.failed: dict[str, str] = {}

    def match(self, batch: pa.RecordBatch, keep: Collection[str]) -> pa.Table | None:
        """The rows of `batch` each filter matches: `rule_id`, `step`, `ts` (epoch µs),
        `evidence_item` (the row's index in `batch`) and the `keep` columns; None if none.
        Rows come filter by filter, each filter's in batch order."""
        found = self.rows(batch)
        return None if found is None else self.table(batch, *found, keep)

    def rows(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray] | None:
        """`match`'s rows, not yet taken: the filter of each (an index in `plan.filters`)
        and its row in `batch`; None if none."""
        if batch.num_rows == 0 or not self.plan.filters:
            return None
        rows = self._in_window(batch)
        if not len(rows):
            return None
        group, first = _groups(batch, self.plan.columns, rows)
        hits = self._decide(batch, first)  # filter indices per group
        which, taken = _rows_per_filter(hits, group, rows, len(self.plan.filters))
        return (which, taken) if len(taken) else None

    def table(
        self, batch: pa.RecordBatch, which: np.ndarray, taken: np.ndarray, keep: Collection[str]
    ) -> pa.Table:
        """`match`'s table of these `rows`, or of some of them: a caller that keeps only some
        rows takes the columns of those alone."""
        index = arrow_array(taken, kind=pa.int64())
        kept = kernels.take(batch.select([c for c in batch.schema.names if c in keep]), index)
        ids, steps = self._labels()
        ts = kernels.cast(kernels.take(batch.column("@timestamp"), index), pa.int64())
        items = arrow_array(taken.astype(np.int32))
        labelled = arrow_array(which)
        return pa.Table.from_arrays(
            [kernels.take(ids, labelled), kernels.take(steps, labelled), ts, items, *kept.columns],
            [RULE_ID, STEP, TS, ITEM, *kept.schema.names],
        )

    def _labels(self) -> tuple[pa.Array, pa.Array]:
        """Each filter's rule id and step, as arrays to take a batch's from."""
        if self._label_arrays is None:
            filters = self.plan.filters
            self._label_arrays = (
                pa.array([f.rule_id for f in filters], pa.string()),
                pa.array([f.step for f in filters], pa.int32()),
            )
        return self._label_arrays

    def _in_window(self, batch: pa.RecordBatch) -> np.ndarray:
        ts = batch.column("@timestamp")
        if self.plan.since is None and self.plan.until is None and not ts.null_count:
            return np.arange(batch.num_rows)  # the usual scan: every row
        mask = kernels.is_valid(ts)
        if self.plan.since is not None:
            since = pa.scalar(self.plan.since, ts.type)
            mask = kernels.and_(mask, kernels.greater_equal(ts, since))
        if self.plan.until is not None:
            mask = kernels.and_(mask, kernels.less(ts, pa.scalar(self.plan.until, ts.type)))
        return np.flatnonzero(kernels.fill_null(mask, False).to_numpy(zero_copy_only=False))

    def _decide(self, batch: pa.RecordBatch, first: np.ndarray) -> list[tuple[int, ...]]:
        """For each group (given by its first row), the filters it passes."""
        firsts = arrow_array(first, kind=pa.int64())
        values = kernels.take(batch.select(list(self.plan.columns)), firsts)
        keys = [
            _hashable(row) for row in zip(*(c.to_pylist() for c in values.columns), strict=True)
        ]
        decided: list[tuple[int, ...] | None] = [self._known.get(key) for key in keys]
        new = [g for g, found in enumerate(decided) if found is None]
        if new:
            fresh = self._evaluate(values, new, keys)
            for g in new:
                decided[g] = fresh[g]
                self._remember(self._known, keys[g], fresh[g])
        return [d or () for d in decided]

    def _evaluate(
        self, values: pa.RecordBatch, groups: list[int], keys: list[tuple[Any, ...]]
    ) -> dict[int, tuple[int, ...]]:
        """The filters each of these groups passes. A filter's answer depends only on the
        columns it reads, so each filter also remembers its answers by those alone: a group
        new for its table names (or country, or error) is new only to the filters reading
        them. A filter with a plain form is answered here; each other filter still to be
        asked runs in DuckDB on the groups it could pass on."""
        providers = values.column(PROVIDER).to_pylist()
        actions = values.column(ACTION).to_pylist()
        passed: dict[int, list[int]] = {g: [] for g in groups}
        asked: dict[int, list[tuple[int, tuple[Any, ...]]]] = {}  # filter -> (group, its key)
        for f, rule in enumerate(self.plan.filters):
            if rule.rule_id in self.failed:
                continue
            reads, known = self._reads(f), self._known_by_filter[f]
            for g in groups:
                if not rule.pairs.admits(providers[g], actions[g]):
                    continue
                key = tuple(keys[g][i] for i in reads)
                answer = known.get(key)
                if answer is None:
                    answer = self._in_python(f, keys[g])
                    if answer is not None:
                        self._remember(known, key, answer)
                if answer is None:
                    asked.setdefault(f, []).append((g, key))
                elif answer:
                    passed[g].append(f)
        if asked:
            self._ask(values, asked, passed)
        return {g: tuple(sorted(fs)) for g, fs in passed.items()}

    def _in_python(self, f: int, key: tuple[Any, ...]) -> bool | None:
        """Filter `f`'s answer for a group (`key`, its values) without DuckDB: its plain form's
        (NULL is false, as in DuckDB), or false where its guard does not hold; None when only
        DuckDB can tell."""
        test = self._tests.get(f)
        if test is not None:
            return test(key) is True
        guard = self._guards.get(f)
        if guard is not None and guard(key) is not True:
            return False
        return None

    def _ask(
        self,
        values: pa.RecordBatch,
        asked: dict[int, list[tuple[int, tuple[Any, ...]]]],
        passed: dict[int, list[int]],
    ) -> None:
        """Run the asked filters in DuckDB, adding to `passed` the groups each passes and
        remembering their answers."""
        numbered = pa.Table.from_batches([values]).append_column(
            _KEY, pa.array(range(values.num_rows), pa.int32())
        )
        # Every filter asked reads all the groups asked about: a filter is false outside its
        # (provider, action) pairs by construction.
        wanted = sorted({g for mine in asked.values() for g, _ in mine})
        found = self._run(kernels.take(numbered, pa.array(wanted, pa.int64())), list(asked))
        for f, groups in found.items():
            for g, key in asked[f]:
                self._remember(self._known_by_filter[f], key, g in groups)
                if g in groups:
                    passed[g].append(f)

    def _run(self, groups: pa.Table, filters: list[int]) -> dict[int, set[int]]:
        """The groups (their `_KEY`) each of `filters` passes, for those that could run."""
        self._without_optimizer()
        self.con.register(self._name, groups)
        try:
            found = self._answers(filters)
        except BaseException:
            # a Ctrl-C between a statement and its fetch leaves a result open, which refuses
            # the unregister: the interruption is what the caller must see
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(self._name)
            raise
        self.con.unregister(self._name)
        return found

    def _without_optimizer(self) -> None:
        """DuckDB's optimizer is two thirds of these statements' cost (~9 of 12 ms for 35
        filters), spread over its passes, and a table of a few dozen groups gains nothing
        from a better plan. The setting is the session's, which is this matcher's."""
        if not self._optimizer_off:
            # the session's alone: a small scan filters on a cursor of the state's database,
            # whose deciding (and a watcher's, for ever after) needs its plans optimized
            self.con.execute("SET SESSION enable_optimizer = false")
            self._optimizer_off = True

    def _answers(self, filters: list[int]) -> dict[int, set[int]]:
        """`_run`'s answers: the filters together, or one by one when that fails."""
        try:
            return self._together(filters)
        except duckdb.Error as exc:  # some filter cannot evaluate on these groups
            if query_interrupted(exc):
                raise KeyboardInterrupt from None
        return self._one_by_one(filters)

    def _together(self, filters: list[int]) -> dict[int, set[int]]:
        """All of `filters` in one statement: a statement's own cost (~0.5 ms) is most of a
        filter's on a few dozen groups. Each is a CASE's condition, which DuckDB evaluates
        as it does a WHERE clause: a condition in turn on the rows where those before it
        held, so a costly one (flattened fields) runs only where the cheap ones did, and one
        that cannot evaluate some row is not asked about rows an earlier one ruled out; a
        NULL answer is false."""
        answers = ", ".join(
            f"CASE WHEN {self.plan.filters[f].where} THEN true ELSE false END" for f in filters
        )
        rows = self.con.execute(f"SELECT {_KEY}, {answers} FROM {self._name}").fetchall()
        return {f: {row[0] for row in rows if row[i]} for i, f in enumerate(filters, 1)}

    def _one_by_one(self, filters: list[int]) -> dict[int, set[int]]:
        """Each of `filters` in its own statement, when they failed together: only the
        rules whose filter fails are left out (`failed`), with DuckDB's reason."""
        found: dict[int, set[int]] = {}
        for f in filters:
            where = self.plan.filters[f].where
            try:
                rows = self.con.execute(f"SELECT {_KEY} FROM {self._name} WHERE {where}")
                found[f] = {g for (g,) in rows.fetchall()}
            except duckdb.Error as exc:  # the data met a condition it cannot evaluate
                if query_interrupted(exc):
                    raise KeyboardInterrupt from None
                self.failed[self.plan.filters[f].rule_id] = failure(exc)
        return found

    def _reads(self, f: int) -> tuple[int, ...]:
        """The positions in `plan.columns` of the columns filter `f` reads (all of them where
        the filter does not say), and of the provider and action its pairs judge."""
        reads = self._reads_of.get(f)
        if reads is None:
            read = self.plan.filters[f].reads
            columns = self.plan.columns
            reads = self._reads_of[f] = tuple(
                i for i, c in enumerate(columns) if read is None or c in read or c in _PAIRS
            )
        return reads

    @staticmethod
    def _remember(
        known: dict[tuple[Any, ...], Answer], key: tuple[Any, ...], answer: Answer
    ) -> None:
        if any(isinstance(v, str) and len(v) > _LONG_TEXT for v in key):
            return
        if len(known) >= _REMEMBER:
            known.clear()
        known[key] = answer


def _bound(plan: FilterPlan, forms: list[Plain | None]) -> dict[int, Test]:
    """The plain forms given (one per filter, None where it has none) as tests of a group's
    key, by filter."""
    tests = {f: bound(form, plan.columns) for f, form in enumerate(forms) if form is not None}
    return {f: test for f, test in tests.items() if test is not None}


def failure(exc: BaseException) -> str:
    """A failed rule's reason in one short line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}"


def _hashable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def _groups(
    batch: pa.RecordBatch, columns: Sequence[str], rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row in `rows`, the number of its combination of values in `columns`; and for
    each combination, the first row (a batch index) that has it."""
    values = batch.select(list(columns))
    if len(rows) < batch.num_rows:  # some rows lie outside the time window
        values = kernels.take(values, arrow_array(rows, kind=pa.int64()))
    key = combined((_codes(values.column(name)) for name in columns), len(rows))
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    return group, rows[first]


def _codes(values: pa.Array) -> tuple[np.ndarray, int]:
    """A small integer per distinct value (nulls are the last code), and a number no code
    exceeds."""
    if values.null_count == len(values):  # a column the batch never fills is one group
        return np.zeros(len(values), np.int64), 0
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        texts = pa.types.is_string(values.type.value_type) or pa.types.is_large_string(
            values.type.value_type
        )
        coded = list_codes(values) if texts else None
        return _python_codes(values) if coded is None else coded
    codes, count = dictionary_codes(values)
    return codes.astype(np.int64), count


def _python_codes(values: pa.Array) -> tuple[np.ndarray, int]:
    seen: dict[Any, int] = {}
    codes = [seen.setdefault(_hashable((v,))[0], len(seen)) for v in values.to_pylist()]
    return np.asarray(codes, dtype=np.int64), len(seen)


def _rows_per_filter(
    hits: list[tuple[int, ...]], group: np.ndarray, rows: np.ndarray, filters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which filter each output row is for, and its batch row: filter by filter, in row order."""
    pairs = [(f, g) for g, fs in enumerate(hits) for f in fs]
    if not pairs:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    passing = np.zeros((filters, len(hits)), dtype=bool)
    passing[tuple(np.array(pairs).T)] = True
    # only the filters some group passes, as (filter, row) pairs read in C order
    some = np.flatnonzero(passing.any(axis=1))
    f, row = np.nonzero(passing[some][:, group])
    return some[f].astype(np.int32), rows[row]
