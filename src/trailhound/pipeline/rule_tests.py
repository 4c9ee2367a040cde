"""Run the test events a rule carries: each test's records through that rule alone.

A test passes when its records normalize and make exactly `expect_alerts` alerts, with fresh
state, as a user's scan of just those records would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from io import BytesIO

import orjson

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.report import Report
from trailhound.pipeline.scan import scan
from trailhound.rules.model import Rule, RuleTest
from trailhound.rules.parameters import with_values
from trailhound.sources import Blob, SourceProblem
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
    """The test's records as one CloudTrail file, scanned by this rule alone with fresh state:
    the path a user's scan takes, reader and stage included."""
    rule = with_values(rule, test.parameters)
    data = orjson.dumps({"Records": list(test.records)})
    blob = Blob(f"{rule.name}: {test.name}", partial(BytesIO, data))
    report = Report()
    store = Store.open(None)
    try:
        result = scan([_OneBlob(blob)], [rule], store=store, enricher=enricher, report=report)
    finally:
        store.close()
    problems = tuple(f"{p.position}: {p.message}" if p.position else p.message
                     for p in report.problems)  # fmt: skip
    return TestOutcome(rule, test, len(result.alerts), problems)


@dataclass(frozen=True)
class _OneBlob:
    blob: Blob

    def blobs(self) -> Iterator[Blob | SourceProblem]:
        yield self.blob


def summary(outcomes: Sequence[TestOutcome]) -> str:
    failed = sum(not o.passed for o in outcomes)
    rules = len({o.rule.rule_id for o in outcomes})
    return f"{len(outcomes) - failed} passed, {failed} failed ({rules} rules)"
