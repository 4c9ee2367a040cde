"""Run the test events a rule carries: each test's records through that rule alone.

A test passes when its records normalize and make exactly `expect_alerts` alerts, with fresh
state, as a user's scan of just those records would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from trailhound.cloudtrail.ecs import normalize, to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import Record, RecordRejected, record_from_object
from trailhound.engine.detector import Detector
from trailhound.rules.model import Rule, RuleTest
from trailhound.state.store import Store


@dataclass(frozen=True, slots=True)
class TestOutcome:
    rule: Rule
    test: RuleTest
    alerts: int
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems and self.alerts == self.test.expect_alerts


def run_rule_tests(rules: Iterable[Rule], enricher: Enricher | None = None) -> list[TestOutcome]:
    enricher = enricher or Enricher.create()
    return [_run_one(rule, test, enricher) for rule in rules for test in rule.tests]


def _run_one(rule: Rule, test: RuleTest, enricher: Enricher) -> TestOutcome:
    records: list[Record] = []
    problems: list[str] = []
    for i, obj in enumerate(test.records, start=1):
        try:
            records.append(record_from_object(obj))
        except RecordRejected as err:
            problems.append(f"record {i}: {err.message}")
    normalized = normalize(records, ingested=datetime.now(UTC), enricher=enricher)
    problems += [f"record {i + 1}: {reason}" for i, reason in normalized.rejected]
    store = Store.open(None)
    try:
        # `now` only matters to date math in queries; tests are judged in their own time.
        detector = Detector([rule], store, to_documents=to_documents, now=datetime.now(UTC))
        detector.add(normalized.batch)
        alerts = detector.finish(final=True)
    finally:
        store.close()
    return TestOutcome(rule, test, len(alerts), tuple(problems))


def summary(outcomes: Sequence[TestOutcome]) -> str:
    failed = sum(not o.passed for o in outcomes)
    rules = len({o.rule.rule_id for o in outcomes})
    return f"{len(outcomes) - failed} passed, {failed} failed ({rules} rules)"
