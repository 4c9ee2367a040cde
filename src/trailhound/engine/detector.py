"""The detector: batches of normalized events in, alerts out, state kept in the store.

`add` runs every rule's filter (compiled to SQL) over a batch inside DuckDB and keeps only the
matching rows, so memory follows what rules match, not the input. `finish` decides, per rule
type, which matches become alerts, in event time, has them made (`alert_making`), and forgets
what no later event can need.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property

import duckdb
import numpy as np
import pyarrow as pa
from msgspec import Struct, field

from trailhound import arrow_kernels as kernels
from trailhound import heap
from trailhound.alerts.model import Alert, alert_id
from trailhound.cloudtrail.schema import BY_NAME
from trailhound.engine import (
    baseline,
    correlation,
    evidence,
    new_terms,
    query,
    sequence,
    suppression,
    threshold,
)
from trailhound.engine.alert_making import AlertMaker, Router
from trailhound.engine.candidates import Candidate, Decide, Outcome
from trailhound.engine.filtering import ITEM, FilterPlan, Matcher, failure
from trailhound.engine.max_signals import first_per_interval
from trailhound.engine.part_making import DocumentMaker, Helpers
from trailhound.engine.prefilter import stored_columns
from trailhound.engine.udfs import register
from trailhound.errors import query_interrupted
from trailhound.numpy_arrow import arrow_array
from trailhound.rules.model import Rule, RuleException, SequenceSpec, ThresholdSpec
from trailhound.state import counted, ledger, matches
from trailhound.state.store import Store

_US = timedelta(microseconds=1)
_NEVER = 2**62
_EVALUATORS: dict[str, Callable[[Store, Rule, int], Outcome]] = {
    "query": query.evaluate,
    "threshold": threshold.evaluate,
    "new_terms": new_terms.evaluate,
    "sequence": sequence.evaluate,
    "baseline": baseline.evaluate,
    "correlation": correlation.evaluate,
}
# Rule types whose rules share reads (each read has a fixed cost: all their rows, or for
# threshold rules each rule's newest time): the read makes the decider of each rule
_READ_TOGETHER: dict[str, Callable[[Store, Sequence[Rule], int], Decide]] = {
    "query": query.deciding,
    "new_terms": new_terms.deciding,
    "threshold": threshold.deciding,
}
# Rule types that decide from their own stored matches alone: without any, nothing to do
_FROM_MATCHES_ONLY = frozenset({"query", "threshold", "new_terms", "sequence"})
# Rule types whose outcome without stored matches is known without reading them
_UNMATCHED: dict[str, Callable[[Store, Rule, int], Outcome]] = {
    "correlation": lambda store, rule, _: correlation.unmatched(store, rule),
    "baseline": baseline.unmatched,
}

_INSERT_ROWS = 100_000


class RunStats(Struct):
    events: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    already_emitted: int = 0
    repeated: int = 0  # matches of events already counted (delivered twice, or read before)
    failed: dict[str, str] = field(default_factory=dict)  # rule name -> why it failed
    dropped_by_max_signals: Counter[str] = field(default_factory=Counter)


def run_filters(
    rules: Sequence[Rule],
    *,
    exceptions: Sequence[RuleException] = (),
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> FilterPlan:
    """The filters a detector of `rules` runs: those of the rules that run."""
    runs = [r for r in rules if r.runs]
    return FilterPlan.build(runs, exceptions=exceptions, now=now, since=since, until=until)


class Detector:
    def __init__(
        self,
        rules: Sequence[Rule],
        store: Store,
        *,
        to_documents: DocumentMaker,
        exceptions: Sequence[RuleException] = (),
        now: datetime | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lateness: timedelta = timedelta(minutes=30),
        evidence_limit: int = evidence.LIMIT,
        route: Router = lambda alert: (),
        keep_evidence: bool = True,
        filters: FilterPlan | None = None,
    ) -> None:
        """`keep_evidence=False` returns the alerts of `finish` without their evidence
        documents (the ledger has them in full), so that a run's memory does not grow with
        its alerts. `filters` are the rules' filters when the caller built them already
        (`run_filters` with the same arguments)."""
        self.rules = [r for r in rules if r.runs]
        self.store = store
        self.con = store.con
        self.to_documents = to_documents
        self.now = now or datetime.now(UTC)
        self.lateness = lateness
        self.evidence_limit = evidence_limit
        self.route = route
        self.keep_evidence = keep_evidence
        self.stats = RunStats()
        self.plan = filters or run_filters(
            rules, exceptions=exceptions, now=self.now, since=since, until=until
        )
        self._names = {rule.rule_id: rule.name for rule in self.rules}
        for rule_id, reason in self.plan.failed:
            self.stats.failed[self._names[rule_id]] = reason
        store.ensure_columns(stored_columns(self.rules))
        self._every_column = False
        self._next_chunk = matches.next_pack(self.store)
        self._next_seq = matches.next_seq(self.store)
        self._pending: list[pa.Table] = []  # matches not yet inserted
        self._pending_rows = 0
        self._packs: list[tuple[int, bytes]] = []  # evidence packs not yet inserted
        self._known = counted.KnownKeys()  # the stored keys' hashes, for this run's inserts
        # the newest event time seen, this run or before; stored by `finish`
        self._latest = int(store.get_meta("max_event_time") or -_NEVER)

    @cached_property
    def matcher(self) -> Matcher:
        """The matcher of `add`, made on first use: a scan's stage matches its batches itself
        (`add_matches`), and this DuckDB database with its functions cost every scan about
        35 ms of CPU before its first output for nothing."""
        # filters run on a connection of their own: an error there must not abort the
        # store's transaction (DuckDB then refuses every later statement in it)
        con = duckdb.connect()
        con.execute("SET threads = 1")
        register(con)
        return Matcher(self.plan, con)

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Keep, for every rule, the rows of `batch` it matches (all their columns)."""
        if batch.num_rows == 0:
            return
        if isinstance(batch, pa.Table):
            batch = batch.combine_chunks().to_batches()[0]
        if not self._every_column:  # whole events are kept, for documents made from them
            self.store.ensure_columns(BY_NAME)
            self._every_column = True
        matched = self.matcher.match(batch, keep=BY_NAME)
        if matched is not None:
            matched = matched.drop_columns([ITEM])
        latest = kernels.max(kernels.cast(batch.column("@timestamp"), pa.int64())).as_py()
        self.add_matches(matched, events=batch.num_rows, latest=latest, failed=self.matcher.failed)

    def add_matches(
        self,
        matched: pa.Table | None,
        *,
        events: int,
        latest: int | None,
        records: bytes | None = None,
        hits: Mapping[str, int] | None = None,
        failed: Mapping[str, str] | None = None,
    ) -> None:
        """Keep rows already matched elsewhere (`Matcher.match` in a worker).

        `events` is how many events were read to find them and `latest` the newest event
        time among those (epoch µs). `records` is the evidence pack of the records behind the
        rows, addressed by their `evidence_item`. `hits` counts the matches per rule id when
        fewer rows than that are stored (see `trailhound.engine.eligibility`)."""
        self.stats.events += events
        for rule_id, reason in (failed or {}).items():
            self.stats.failed.setdefault(self._names.get(rule_id, rule_id), reason)
        if hits is None and matched is not None:
            hits = Counter(matched.column("rule_id").to_pylist())
        for rule_id, count in (hits or {}).items():
            self.stats.matched[self._names.get(rule_id, rule_id)] += count
        if matched is not None and matched.num_rows:
            chunk = None if records is None else self._pack(records)
            # from NumPy: a range goes through Python's integers one by one
            first, self._next_seq = self._next_seq, self._next_seq + matched.num_rows
            seq = arrow_array(np.arange(first, self._next_seq, dtype=np.int64))
            matched = matched.append_column(
                matches.CHUNK, pa.repeat(pa.scalar(chunk, pa.int64()), len(seq))
            )
            self._pending.append(matched.append_column("seq", seq))
            self._pending_rows += matched.num_rows
            if self._pending_rows >= _INSERT_ROWS:
                self._store_pending()
        if latest is not None and latest > self._latest:
            self._latest = latest

    def _pack(self, records: bytes) -> int:
        chunk = self._next_chunk
        self._next_chunk += 1
        self._packs.append((chunk, records))
        return chunk

    def _store_pending(self, *, last: bool = False) -> None:
        """Matches are stored in large inserts: each insert has a fixed cost. `last`: the
        one before deciding, whose rows DuckDB may hold until the commit (`matches.append`)."""
        if not self._pending and not self._packs:
            return  # even storing nothing sets DuckDB's threads twice
        self.stats.repeated += matches.append(
            self.store, self._pending, self._packs, last=last, known=self._known
        )
        self._pending, self._packs, self._pending_rows = [], [], 0
        if last:  # deciding forgets most stored keys: a later insert reads what is left
            self._known = counted.KnownKeys()

    def finish(
        self,
        *,
        final: bool = True,
        clock: int | None = None,
        forget: bool = True,
        helpers: Helpers | None = None,
    ) -> list[Alert]:
        """Decide every pending match up to the cutoff and return the new alerts, which are
        entered in the ledger and queued for the outputs `route` names.

        `final` decides everything (a hunt over history); otherwise events newer than the
        latest event time minus the allowed lateness wait for a later call, or, given the
        wall `clock` (epoch µs, for a watcher), newer than the later of that time and the
        clock minus the lateness: a quiet trail's last events are not held back for ever,
        and a trail read long after it was written is decided at once. Run it inside the
        store's transaction, with the `add`s before it, so that a crash keeps all or nothing.
        `forget=False` leaves the decided rows stored: for a store that ends with this run (in
        memory, `--no-state`), deleting what no later run can need is work nothing reads.
        `helpers` (a scan's workers) make some of the alerts beside this process when their
        evidence is not kept (`keep_evidence=False`); this process still enters them all.
        """
        newest = self._latest if clock is None else max(self._latest, clock)
        cutoff = _NEVER if final else newest - int(self.lateness / _US)
        # one block for all three: each block sets DuckDB's threads twice
        with self.store.one_thread():
            self._store_pending(last=True)
            self.store.set_metas(
                {"max_event_time": str(self._latest), "next_seq": str(self._next_seq)}
            )
            kept_by_rule = self._decide_all(cutoff)
        decided = self._fresh(kept_by_rule)
        for rule, _, fresh in decided:
            self.stats.alerts[rule.name] += len(fresh)
        maker = AlertMaker(
            self.store, self.to_documents, self.evidence_limit, self.route, self.keep_evidence,
            helpers,
        )
        alerts = maker.make([(rule, i, c) for rule, _, fresh in decided for i, c in fresh])
        # what deciding and making the alerts freed is handed back before DuckDB forgets and
        # commits: its statements allocate from its own allocator, so that freed memory would
        # only add to their peak (at 4M events forgetting's was the end's, 40-50 MB higher)
        heap.give_back()
        if forget:
            self._forget(cutoff, [(rule, outcome) for rule, outcome, _ in decided])
        alerts.sort(key=lambda a: (a.time, a.rule.name, a.id))
        return alerts

    def _decide_all(self, cutoff: int) -> list[tuple[Rule, Outcome, list[Candidate]]]:
        """Every rule's outcome and the candidates it keeps after suppression and max_signals.
        Run on one DuckDB thread: its statements here are small or write (counted events,
        windows), and a second thread only added CPU (the baseline rule's at 1M events:
        0.2 CPU-s on two, 0.11 on one)."""
        kept_by_rule: list[tuple[Rule, Outcome, list[Candidate]]] = []
        stored = matches.rules_with_rows(self.store)
        deciders: dict[str, Decide] = {}
        last_of_type = {r.type: r for r in self.rules}
        for rule in self.rules:
            if rule.name in self.stats.failed:
                continue  # its matches stay pending: a later run, with the rule fixed, decides
            try:
                outcome = self._evaluate(rule, cutoff, stored, deciders)
            except duckdb.Error:
                raise  # the store's transaction is aborted: nothing of this run may commit
            except Exception as exc:  # one rule's fault must not cost the others their alerts
                if query_interrupted(exc):
                    raise KeyboardInterrupt from None
                self.stats.failed[rule.name] = failure(exc)
                continue
            finally:
                if last_of_type[rule.type] is rule:
                    _let_go(deciders, rule.type)
            kept = outcome.candidates
            if not outcome.suppressed:
                kept = self._cap_max_signals(rule, suppression.apply(self.store, rule, kept))
            elif outcome.dropped:
                self.stats.dropped_by_max_signals[rule.name] += outcome.dropped
            outcome.candidates = []  # only what `_forget` needs is kept from here on
            kept_by_rule.append((rule, outcome, kept))
        # what deciding read and left in DuckDB's cache goes before the alerts are made
        heap.give_back_duckdb(self.store)
        return kept_by_rule

    def _evaluate(
        self, rule: Rule, cutoff: int, stored: set[str], deciders: dict[str, Decide]
    ) -> Outcome:
        """A rule's outcome; its queries are skipped when they could find nothing (each has a
        fixed cost, which most rules of a small or quiet scan would pay for no row).
        `deciders` keeps, per rule type read together, the deciders of its rules."""
        if rule.type in _FROM_MATCHES_ONLY and rule.rule_id not in stored:
            return Outcome([])
        if rule.type in _UNMATCHED and rule.rule_id not in stored:
            return _UNMATCHED[rule.type](self.store, rule, cutoff)
        read = _READ_TOGETHER.get(rule.type)
        if read is None:
            return _EVALUATORS[rule.type](self.store, rule, cutoff)
        if rule.type not in deciders:
            alike = [r for r in self.rules if r.type == rule.type and r.rule_id in stored
                     and r.name not in self.stats.failed]  # fmt: skip
            deciders[rule.type] = read(self.store, alike, cutoff)
        return deciders[rule.type](rule)

    def _cap_max_signals(self, rule: Rule, candidates: list[Candidate]) -> list[Candidate]:
        times = np.array([c.time for c in candidates], np.int64)
        keep = first_per_interval(times, int(rule.interval / _US), rule.max_signals).tolist()
        if dropped := keep.count(False):
            self.stats.dropped_by_max_signals[rule.name] += dropped
        return [c for c, kept in zip(candidates, keep, strict=True) if kept]

    def _fresh(
        self, kept_by_rule: list[tuple[Rule, Outcome, list[Candidate]]]
    ) -> list[tuple[Rule, Outcome, list[tuple[str, Candidate]]]]:
        """Each rule's candidates with their alert ids, without those emitted by an earlier
        run or already among these (a record delivered twice makes the same alert twice).
        The ledger is asked once for all rules: every query has a fixed cost."""
        ids = [[alert_id(rule, c.key, c.event_ids) for c in kept] for rule, _, kept in kept_by_rule]
        seen = ledger.known(self.store, [i for of_rule in ids for i in of_rule])
        decided = []
        for (rule, outcome, kept), of_rule in zip(kept_by_rule, ids, strict=True):
            fresh = []
            for ident, cand in zip(of_rule, kept, strict=True):
                if ident not in seen:
                    seen.add(ident)
                    fresh.append((ident, cand))
            self.stats.already_emitted += len(kept) - len(fresh)
            decided.append((rule, outcome, fresh))
        return decided

    def _forget(self, cutoff: int, outcomes: list[tuple[Rule, Outcome]]) -> None:
        """Delete the decided rows no later event can need (see `Outcome`)."""
        retain = {
            rule.rule_id: _NEVER if o.retain_from is None else o.retain_from for rule, o in outcomes
        }
        counting = None  # until an event was seen, every key is kept
        if self._latest > -_NEVER:
            counting = {
                rule.rule_id: self._latest - int(_counting_span(rule, self.lateness) / _US)
                for rule, _ in outcomes
            }
        consumed = [s for _, o in outcomes for s in o.consumed]
        matches.forget(self.store, cutoff, retain, consumed, counting_since=counting)
        if counting is not None:
            counted.forget(self.store, counting)


def _let_go(deciders: dict[str, Decide], kind: str) -> None:
    """The decider of the rules of type `kind`, when its last rule is decided, with what it
    read (the query rules': 42 MB of Arrow at 4M events, held through the baseline rule's
    own read and sort, the deciding's peak)."""
    if deciders.pop(kind, None) is not None:
        heap.give_back_arrow()


def _counting_span(rule: Rule, lateness: timedelta) -> timedelta:
    """How long a rule may still count an event, after the newest event seen: its duplicate
    arriving later must still be known as one."""
    spans = [timedelta(days=1), rule.lookback]
    spec = rule.spec
    if isinstance(spec, ThresholdSpec) and spec.window is not None:
        spans.append(spec.window)
    if isinstance(spec, SequenceSpec):
        spans.append(spec.maxspan)
    return max(spans) + lateness
