"""DESIGN 3.3: the same input, cut into any batches in any order within the allowed lateness,
yields the same set of alert ids as one batch."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from support.events import batch, detector, event
from support.rules import action, match, rule
from trailhound.rules.kql import MATCH_ALL
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    FactSource,
    NewTermsSpec,
    SequenceSpec,
    SequenceStep,
    Suppression,
    ThresholdSpec,
)
from trailhound.state.store import Store

LATENESS = timedelta(minutes=20)
RULES = [
    rule(
        action("DeleteTable"),
        ThresholdSpec(("cloud.account.id",), 3, window=timedelta(minutes=10)),
    ),
    rule(action("Scan"), NewTermsSpec(("user.name",), timedelta(hours=1))),
    rule(
        action("DeleteBackup"),
        suppression=Suppression(("user.name",), timedelta(minutes=30)),
        name="suppressed query",
    ),
    rule(
        MATCH_ALL,
        SequenceSpec(
            ("user.name",),
            timedelta(minutes=15),
            (SequenceStep("", action("DeleteBackup")), SequenceStep("", action("DeleteTable"))),
        ),
        name="sequence",
    ),
    rule(
        action("Scan"),
        BaselineSpec(
            ("user.name",),
            window=timedelta(minutes=10),
            history=timedelta(hours=1),
            min_count=2,
            min_history=timedelta(minutes=20),
            factor=2,
        ),
        name="baseline",
    ),
    rule(
        action("DisableKey"),
        CorrelationSpec(
            "user.name",
            timedelta(minutes=30),
            (FactSource("", match("event.action", "Decrypt"), "user.name", "event.action"),),
        ),
        name="correlation",
    ),
]

events = st.lists(
    st.tuples(
        st.integers(0, 180),  # minute of the event
        st.sampled_from(["DeleteTable", "Scan", "DeleteBackup", "Decrypt", "DisableKey"]),
        st.sampled_from(["alice", "bob"]),
        st.integers(0, 10),  # delivery delay in minutes, at most half the lateness
    ),
    max_size=40,
)


def ids_for(batches: list[list[dict[str, object]]]) -> set[str]:
    store = Store.open(None)
    found: set[str] = set()
    for i, rows in enumerate(batches):
        d = detector(RULES, store, lateness=LATENESS)
        d.add(batch(rows))
        found |= {a.id for a in d.finish(final=i == len(batches) - 1)}
    return found


@settings(max_examples=60, deadline=None)
@given(events, st.lists(st.integers(1, 8), min_size=1, max_size=6), st.randoms())
def test_any_batching_within_lateness_gives_the_same_alerts(
    spec: list[tuple[int, str, str, int]], cuts: list[int], rnd: object
) -> None:
    rows = [
        (m + delay, event(i, timedelta(minutes=m), act, user__name=user))
        for i, (m, act, user, delay) in enumerate(spec)
    ]
    arrival = [r for _, r in sorted(rows, key=lambda x: (x[0], x[1]["event.id"]))]
    batches: list[list[dict[str, object]]] = []
    start = 0
    for size in cuts:
        chunk = arrival[start : start + size]
        rnd.shuffle(chunk)  # type: ignore[attr-defined]
        batches.append(chunk)
        start += size
    batches.append(arrival[start:])
    assert ids_for(batches) == ids_for([arrival])
