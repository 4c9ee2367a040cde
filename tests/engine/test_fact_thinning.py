"""A correlation rule's fact-source rows are thinned per batch before they are stored, and
never kept as evidence; whatever the batches and runs, the alerts and the facts remembered for
later runs must be those of storing every row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from support.events import batch, detector, event
from support.rules import action, match, rule
from support.thinning import decided
from trailhound.engine.eligibility import Eligibility
from trailhound.engine.prefilter import stored_columns
from trailhound.rules.model import CorrelationSpec, FactSource, Rule

KEY = "aws.cloudtrail.resources.arn"
TABLE = "aws.dynamodb.table_name"
SPEC = CorrelationSpec(
    key=KEY,
    remember=timedelta(minutes=30),
    facts=(FactSource("", match("event.action", "Decrypt"), KEY, TABLE),),
)
RULES: list[Rule] = [rule(action("DisableKey"), SPEC, rule_id="keys")]

events = st.lists(
    st.tuples(
        st.integers(0, 100),  # minute: a few memory spans
        st.sampled_from(["Decrypt", "Decrypt", "Decrypt", "DisableKey"]),
        st.sampled_from(["key/a", "key/b"]),
        # a list of one table, of two (never thinned), or none
        st.sampled_from([["orders"], ["orders"], ["customers"], ["orders", "customers"], None]),
        st.integers(0, 2),  # batch
    ),
    max_size=40,
)


def rows_of(
    spec: Sequence[tuple[int, str, str, list[str] | None, int]],
) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[] for _ in range(3)]
    for n, (minute, name, arn, tables, part) in enumerate(spec):
        row = event(
            n, timedelta(minutes=minute), name, aws__cloudtrail__resources__arn=[arn],
            aws__dynamodb__table_name=tables, event__provider="kms.amazonaws.com",
        )  # fmt: skip
        batches[part].append(row)
    return [b for b in batches if b]


def outcome(batches: list[list[dict[str, Any]]], thin: bool, runs: int) -> tuple[Any, ...]:
    alerts, store = decided(RULES, batches, thin=thin, runs=runs)
    facts = store.con.execute("SELECT * FROM facts ORDER BY ALL").fetchall()
    return sorted((a.event_ids, a.key, a.count) for a in alerts), facts


@settings(max_examples=40, deadline=None)
@given(events, st.integers(1, 2))
# the use at minute 20 is what makes the key known to the DisableKey at 45 (another batch)
@example([(0, "Decrypt", "key/a", ["orders"], 0), (20, "Decrypt", "key/a", ["orders"], 0),
          (50, "Decrypt", "key/a", ["orders"], 0), (45, "DisableKey", "key/a", None, 1)], 1)
# a use naming two tables between two naming one: it alone teaches the second table
@example([(0, "Decrypt", "key/a", ["orders"], 0),
          (10, "Decrypt", "key/a", ["orders", "customers"], 0),
          (20, "Decrypt", "key/a", ["orders"], 0), (15, "DisableKey", "key/a", None, 1)], 1)
def test_thinned_sources_decide_like_all_rows(
    spec: list[tuple[int, str, str, list[str] | None, int]], runs: int
) -> None:
    batches = rows_of(spec)
    assert outcome(batches, thin=True, runs=runs) == outcome(batches, thin=False, runs=runs)


def test_a_key_used_every_minute_stores_a_few_rows_and_none_as_evidence() -> None:
    rows = [event(n, timedelta(minutes=n), "Decrypt", aws__cloudtrail__resources__arn=["key/a"],
                  aws__dynamodb__table_name=["orders"]) for n in range(200)]  # fmt: skip
    rows.append(event(200, timedelta(minutes=200), "DisableKey",
                      aws__cloudtrail__resources__arn=["key/a"]))  # fmt: skip
    table = detector(RULES).matcher.match(batch(rows), keep=stored_columns(RULES))
    masks = Eligibility.build(RULES).masks(table)
    source = [s == 0 for s in table.column("step").to_pylist()]
    assert sum(source) == 200
    assert sum(s for s, is_source in zip(masks.store, source, strict=True) if is_source) < 20
    assert not any(e for e, is_source in zip(masks.evidence, source, strict=True) if is_source)
    alerting = source.index(False)
    assert masks.store[alerting] and masks.evidence[alerting]
