"""The detector: batches of normalized events in, alerts out, state kept in the store.

`add` runs every rule's filter (compiled to SQL) over a batch inside DuckDB and keeps only the
matching rows, so memory follows what rules match, not the input. `finish` decides, per rule
type, which matches become alerts, in event time, and forgets what no later event can need.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from trailhound.alerts.model import Alert, alert_id
from trailhound.engine import new_terms, query, sequence, suppression, threshold
from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.exceptions import exception_predicate
from trailhound.engine.predicates import column, compile_predicate
from trailhound.engine.store import Store
from trailhound.rules import kql_ast as k
from trailhound.rules.model import Rule, RuleException, SequenceSpec

_US = timedelta(microseconds=1)
_NEVER = 2**62
_EVALUATORS: dict[str, Callable[[duckdb.DuckDBPyConnection, Rule, int], Outcome]] = {
    "query": query.evaluate,
    "threshold": threshold.evaluate,
    "new_terms": new_terms.evaluate,
    "sequence": sequence.evaluate,
}

DocumentMaker = Callable[[pa.RecordBatch], Iterator[dict[str, Any]]]


@dataclass
class RunStats:
    events: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    already_emitted: int = 0
    dropped_by_max_signals: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Filter:
    rule: Rule
    step: int
    sql: str


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
        evidence_limit: int = 10,
    ) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.store = store
        self.con = store.con
        self.to_documents = to_documents
        self.now = now or datetime.now(UTC)
        self.lateness = lateness
        self.evidence_limit = evidence_limit
        self.stats = RunStats()
        window = _time_window(since, until)
        self.filters = [
            _Filter(rule, step, _insert_sql(pred, window))
            for rule in self.rules
            for step, pred in enumerate(self._predicates(rule, exceptions))
        ]

    def _predicates(
        self, rule: Rule, exceptions: Sequence[RuleException]
    ) -> list[exp.Expr]:
        applicable = [
            e
            for e in (*rule.exceptions, *exceptions)
            if not e.rule_ids or rule.rule_id in e.rule_ids or rule.name in e.rule_ids
        ]
        asts: list[k.Node] = [rule.ast]
        if isinstance(rule.spec, SequenceSpec):
            # the rule's own query is a filter shared by every step
            asts = [k.And((rule.ast, step.ast)) for step in rule.spec.steps]
        preds: list[exp.Expr] = []
        for ast in asts:
            pred: exp.Expr = exp.paren(compile_predicate(ast, now=self.now))
            for excused in applicable:
                if excused.expires is None or excused.expires >= self.now.date():
                    pred = exp.and_(pred, exp.not_(exp.paren(exception_predicate(excused))))
            preds.append(pred)
        return preds

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Keep, for every rule, the rows of `batch` it matches."""
        if batch.num_rows == 0:
            return
        self.stats.events += batch.num_rows
        self.con.register("batch", batch)
        try:
            for f in self.filters:
                self.con.execute(f.sql, {"rule": f.rule.rule_id, "step": f.step})
            rows = self.con.execute('SELECT max(epoch_us("@timestamp")) FROM batch').fetchall()
        finally:
            self.con.unregister("batch")
        if rows and rows[0][0] is not None:
            latest = int(self.store.get_meta("max_event_time") or -_NEVER)
            self.store.set_meta("max_event_time", str(max(latest, int(rows[0][0]))))

    def finish(self, *, final: bool = True) -> list[Alert]:
        """Decide every pending match up to the cutoff and return the new alerts.

        `final` decides everything (a hunt over history); otherwise events newer than the
        latest event time minus the allowed lateness wait for a later call.
        """
        latest = int(self.store.get_meta("max_event_time") or -_NEVER)
        cutoff = _NEVER if final else latest - int(self.lateness / _US)
        alerts: list[Alert] = []
        for rule in self.rules:
            self.stats.matched[rule.name] += self._count_matches(rule, cutoff)
            outcome = _EVALUATORS[rule.type](self.con, rule, cutoff)
            kept = suppression.apply(self.con, rule, outcome.candidates)
            kept = self._cap_max_signals(rule, kept)
            new = self._emit(rule, kept)
            self._forget(rule, cutoff, outcome)
            self.stats.alerts[rule.name] += len(new)
            alerts.extend(new)
        alerts.sort(key=lambda a: (a.time, a.rule.name, a.id))
        return alerts

    def _count_matches(self, rule: Rule, cutoff: int) -> int:
        rows = self.con.execute(
            "SELECT count(*) FROM matches WHERE rule_id = ? AND ts <= ?", [rule.rule_id, cutoff]
        ).fetchall()
        return int(rows[0][0])

    def _cap_max_signals(self, rule: Rule, candidates: list[Candidate]) -> list[Candidate]:
        """Elastic stops at max_signals alerts per rule run; a run covers one interval."""
        interval = max(1, int(rule.interval / _US))
        per_bucket: Counter[int] = Counter()
        kept = []
        for cand in candidates:
            bucket = cand.time // interval
            per_bucket[bucket] += 1
            if per_bucket[bucket] <= rule.max_signals:
                kept.append(cand)
            else:
                self.stats.dropped_by_max_signals[rule.name] += 1
        return kept

    def _emit(self, rule: Rule, candidates: list[Candidate]) -> list[Alert]:
        if not candidates:
            return []
        ids = [alert_id(rule, c.key, c.event_ids) for c in candidates]
        known = self._known_ids(ids)
        fresh = [(i, c) for i, c in zip(ids, candidates, strict=True) if i not in known]
        self.stats.already_emitted += len(candidates) - len(fresh)
        docs = self._evidence_documents([c for _, c in fresh])
        alerts = [self._alert(rule, i, c, docs) for i, c in fresh]
        self._record(alerts)
        return alerts

    def _known_ids(self, ids: list[str]) -> set[str]:
        self.con.register("_ids", pa.table({"alert_id": ids}))
        try:
            rows = self.con.execute("SELECT alert_id FROM ledger JOIN _ids USING (alert_id)")
            return {r[0] for r in rows.fetchall()}
        finally:
            self.con.unregister("_ids")

    def _evidence_documents(self, candidates: list[Candidate]) -> dict[int, dict[str, Any]]:
        seqs = sorted({s for c in candidates for s in c.seqs[: self.evidence_limit]})
        if not seqs:
            return {}
        self.con.register("_seqs", pa.table({"seq": pa.array(seqs, pa.int64())}))
        try:
            table: pa.Table = self.con.sql(
                "SELECT m.* EXCLUDE (rule_id, step, ts) FROM matches m JOIN _seqs USING (seq)"
            ).to_arrow_table()
        finally:
            self.con.unregister("_seqs")
        order = table.column("seq").to_pylist()
        docs = self.to_documents(table.drop_columns(["seq"]).combine_chunks().to_batches()[0])
        return dict(zip(order, docs, strict=True))

    def _alert(
        self, rule: Rule, ident: str, cand: Candidate, docs: Mapping[int, dict[str, Any]]
    ) -> Alert:
        evidence = tuple(docs[s] for s in cand.seqs[: self.evidence_limit] if s in docs)
        return Alert(
            id=ident,
            rule=rule,
            time=cand.time,
            first_time=cand.first_time,
            key=cand.key,
            event_ids=tuple(cand.event_ids),
            count=len(cand.seqs) + cand.absorbed,
            evidence=evidence,
            investigation=_investigation(rule, evidence),
        )

    def _record(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        import orjson

        table = pa.table(
            {
                "alert_id": [a.id for a in alerts],
                "rule_id": [a.rule.rule_id for a in alerts],
                "alert_time": pa.array([a.time for a in alerts], pa.int64()),
                "alert": [orjson.dumps(a.to_dict()).decode() for a in alerts],
            }
        )
        self.con.register("_new_alerts", table)
        try:
            self.con.execute(
                "INSERT INTO ledger SELECT alert_id, rule_id, alert_time, now(), alert "
                "FROM _new_alerts ON CONFLICT DO NOTHING"
            )
        finally:
            self.con.unregister("_new_alerts")

    def _forget(self, rule: Rule, cutoff: int, outcome: Outcome) -> None:
        retain_from = _NEVER if outcome.retain_from is None else outcome.retain_from
        self.con.register("_consumed", pa.table({"seq": pa.array(outcome.consumed, pa.int64())}))
        try:
            self.con.execute(
                "DELETE FROM matches WHERE rule_id = $rule AND ts <= $cutoff AND "
                "(ts < $retain OR seq IN (SELECT seq FROM _consumed))",
                {"rule": rule.rule_id, "cutoff": cutoff, "retain": retain_from},
            )
        finally:
            self.con.unregister("_consumed")


def _time_window(since: datetime | None, until: datetime | None) -> exp.Expr:
    ts = column("@timestamp")
    cond: exp.Expr = exp.Not(this=exp.Is(this=ts, expression=exp.Null()))
    tz = exp.DataType.build("TIMESTAMPTZ")
    if since is not None:
        bound = exp.cast(exp.Literal.string(since.isoformat()), tz)
        cond = exp.and_(cond, exp.GTE(this=ts, expression=bound))
    if until is not None:
        bound = exp.cast(exp.Literal.string(until.isoformat()), tz)
        cond = exp.and_(cond, exp.LT(this=ts, expression=bound))
    return cond


def _insert_sql(predicate: exp.Expr, window: exp.Expr) -> str:
    where = exp.and_(window, predicate).sql("duckdb")
    return (
        "INSERT INTO matches BY NAME SELECT nextval('match_seq') AS seq, $rule AS rule_id, "
        '$step AS step, epoch_us("@timestamp") AS ts, * FROM batch WHERE ' + where
    )


def _investigation(
    rule: Rule, evidence: tuple[Mapping[str, Any], ...]
) -> dict[str, tuple[str, ...]]:
    found: dict[str, dict[str, None]] = defaultdict(dict)
    for doc in evidence:
        for name in rule.investigation_fields:
            for value in _lookup(doc, name):
                found[name][value] = None
    return {name: tuple(values) for name, values in found.items()}


def _lookup(doc: Mapping[str, Any], dotted: str) -> list[str]:
    node: Any = doc
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if isinstance(node, Mapping) and ".".join(parts[i:]) in node:
            node = node[".".join(parts[i:])]
            break
        if not isinstance(node, Mapping) or part not in node:
            return []
        node = node[part]
    if node is None:
        return []
    values = node if isinstance(node, list) else [node]
    return [v if isinstance(v, str) else str(v) for v in values if not isinstance(v, dict | list)]
