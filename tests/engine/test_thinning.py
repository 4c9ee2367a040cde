"""A new_terms rule's rows are thinned per batch before they are stored; whatever the
batches, the alerts (and the terms remembered for later runs) must be those of storing all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from support.events import batch, detector, event
from support.rules import action, rule
from support.thinning import decided
from trailhound.engine.eligibility import Eligibility
from trailhound.engine.prefilter import stored_columns
from trailhound.rules.model import NewTermsSpec, Rule

HISTORY = timedelta(minutes=30)
RULES: list[Rule] = [
    rule(action("Scan"), NewTermsSpec(("user.name",), HISTORY), rule_id="plain"),
    rule(
        action("Scan"),
        NewTermsSpec(("cloud.account.id", "user.name"), HISTORY, timedelta(minutes=20)),
        rule_id="learning",
    ),
]

events = st.lists(
    st.tuples(
        st.integers(0, 100),  # minute: a few history windows
        st.sampled_from(["alice", "bob", None]),  # None: no term
        st.integers(0, 2),  # batch
    ),
    max_size=40,
)


def rows_of(spec: Sequence[tuple[int, str | None, int]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[] for _ in range(3)]
    for n, (minute, user, part) in enumerate(spec):
        row = event(n, timedelta(minutes=minute), "Scan")
        row["user.name"] = user
        batches[part].append(row)
    return [b for b in batches if b]


def outcome(batches: list[list[dict[str, Any]]], thin: bool, runs: int) -> tuple[Any, ...]:
    alerts, store = decided(RULES, batches, thin=thin, runs=runs)
    terms = store.con.execute("SELECT * FROM terms ORDER BY ALL").fetchall()
    clocks = store.con.execute("SELECT * FROM clocks ORDER BY ALL").fetchall()
    return sorted((a.rule.rule_id, a.event_ids, a.key) for a in alerts), terms, clocks


@settings(max_examples=25, deadline=None)
@given(events, st.integers(1, 2))
# the row at minute 20 is what makes the later row at 45 (another batch) not new
@example([(0, "alice", 0), (20, "alice", 0), (50, "alice", 0), (45, "alice", 1)], 1)
def test_thinned_rows_decide_like_all_rows(
    spec: list[tuple[int, str | None, int]], runs: int
) -> None:
    batches = rows_of(spec)
    assert outcome(batches, thin=True, runs=runs) == outcome(batches, thin=False, runs=runs)


def test_dense_terms_are_thinned_to_a_few_rows() -> None:
    rows = [event(n, timedelta(minutes=n), "Scan") for n in range(200)]  # alice, every minute
    table = detector(RULES).matcher.match(batch(rows), keep=stored_columns(RULES))
    masks = Eligibility.build(RULES).masks(table)
    plain = [r == "plain" for r in table.column("rule_id").to_pylist()]
    stored = sum(s for s, p in zip(masks.store, plain, strict=True) if p)
    shown = sum(e for e, p in zip(masks.evidence, plain, strict=True) if p)
    assert stored < 20  # of 200: one per half hour, and the last
    assert shown == 1  # only the first can be a new term
