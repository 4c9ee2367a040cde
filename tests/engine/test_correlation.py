"""correlation rules: facts taught by some events (a KMS key used for a table) make a later
event about the same key an alert, within the time the rule remembers; facts live in the state
across runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from msgspec import structs

from support.events import batch, detector, event, run
from support.rules import action, match, rule
from trailhound.rules.model import CorrelationSpec, FactSource
from trailhound.state.store import Store

KEY = "aws.cloudtrail.resources.arn"
TABLE = "aws.dynamodb.table_name"
ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER = "arn:aws:kms:us-east-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab"
SPEC = CorrelationSpec(
    key=KEY,
    remember=timedelta(days=30),
    facts=(FactSource("", match("event.action", "Decrypt"), KEY, TABLE),),
)
RULE = rule(action("DisableKey"), SPEC)


def _used(n: int, at: timedelta, table: str = "orders", arn: str = ARN) -> dict[str, Any]:
    return event(
        n,
        at,
        "Decrypt",
        aws__cloudtrail__resources__arn=[arn],
        aws__dynamodb__table_name=[table],
        event__provider="kms.amazonaws.com",
    )


def _disabled(n: int, at: timedelta, arn: str = ARN) -> dict[str, Any]:
    return event(n, at, "DisableKey", aws__cloudtrail__resources__arn=[arn],
                 event__provider="kms.amazonaws.com")  # fmt: skip


def test_disabling_a_key_dynamodb_used_alerts_with_the_tables_it_protects() -> None:
    rows = [_used(1, timedelta(0)), _used(2, timedelta(hours=1), "customers"),
            _disabled(3, timedelta(hours=2))]  # fmt: skip
    alerts = run([RULE], rows)
    assert [a.key for a in alerts] == [((KEY, ARN), (TABLE, "customers, orders"))]


def test_a_key_dynamodb_never_used_is_quiet() -> None:
    assert run([RULE], [_used(1, timedelta(0), arn=OTHER), _disabled(2, timedelta(hours=1))]) == []


def test_a_fact_learned_after_the_event_does_not_count() -> None:
    assert run([RULE], [_disabled(1, timedelta(0)), _used(2, timedelta(hours=1))]) == []


def test_a_fact_older_than_the_memory_is_forgotten() -> None:
    old = [_used(1, timedelta(0)), _disabled(2, timedelta(days=30, seconds=1))]
    assert run([RULE], old) == []
    edge = [_used(1, timedelta(0)), _disabled(2, timedelta(days=30))]
    assert len(run([RULE], edge)) == 1


def test_facts_survive_between_runs() -> None:
    store = Store.open(None)
    first = detector([RULE], store)
    first.add(batch([_used(1, timedelta(0))]))
    assert first.finish(final=True) == []
    second = detector([RULE], store)
    second.add(batch([_disabled(2, timedelta(days=3))]))
    assert len(second.finish(final=True)) == 1
    third = detector([RULE], store)
    third.add(batch([_disabled(2, timedelta(days=3))]))  # the same event delivered again
    assert third.finish(final=True) == []


def test_a_fact_seen_again_is_remembered_from_its_last_sighting_in_a_later_run() -> None:
    store = Store.open(None)
    first = detector([RULE], store)
    first.add(batch([_used(1, timedelta(0)), _used(2, timedelta(days=10)),
                     _used(3, timedelta(days=5))]))  # fmt: skip
    assert first.finish(final=True) == []
    second = detector([RULE], store)
    second.add(batch([_disabled(4, timedelta(days=39))]))  # 29 days after the last use
    assert [a.key for a in second.finish(final=True)] == [((KEY, ARN), (TABLE, "orders"))]
    third = detector([RULE], store)
    third.add(batch([_disabled(5, timedelta(days=41))]))  # 31 days after it
    assert third.finish(final=True) == []


def test_a_shorter_memory_forgets_old_facts_even_in_a_run_the_rule_matched_nothing_in() -> None:
    store = Store.open(None)
    first = detector([RULE], store)
    first.add(batch([_used(1, timedelta(0)), _used(2, timedelta(days=10), arn=OTHER)]))
    assert first.finish(final=True) == []
    shorter = replace(RULE, spec=structs.replace(SPEC, remember=timedelta(days=5)))
    quiet = detector([shorter], store)  # the key used at day 0 is 10 days older than the last
    quiet.add(batch([event(3, timedelta(days=11), "ListTables")]))
    assert quiet.finish(final=True) == []
    again = detector([RULE], store)
    again.add(batch([_disabled(4, timedelta(days=12))]))
    assert again.finish(final=True) == []


def test_a_run_the_rule_matched_nothing_in_keeps_the_facts_it_remembers() -> None:
    store = Store.open(None)
    first = detector([RULE], store)
    first.add(batch([_used(1, timedelta(0))]))
    assert first.finish(final=True) == []
    quiet = detector([RULE], store)
    quiet.add(batch([event(2, timedelta(days=1), "ListTables")]))
    assert quiet.finish(final=True) == []
    again = detector([RULE], store)
    again.add(batch([_disabled(3, timedelta(days=2))]))
    assert len(again.finish(final=True)) == 1
