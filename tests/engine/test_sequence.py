"""sequence rules: ordered steps by the same key within maxspan."""

from __future__ import annotations

from datetime import timedelta

from support.events import event, run
from support.rules import action, rule
from trailhound.rules.kql import MATCH_ALL
from trailhound.rules.model import SequenceSpec, SequenceStep

MIN = timedelta(minutes=1)
SPEC = SequenceSpec(
    by=("cloud.account.id", "user.name"),
    maxspan=timedelta(hours=1),
    steps=(
        SequenceStep("", action("DeleteBackup")),
        SequenceStep("", action("DeleteTable")),
    ),
)


def test_backup_then_table_deleted_by_one_actor_within_an_hour() -> None:
    rows = [event(0, 0 * MIN, "DeleteBackup"), event(1, 59 * MIN, "DeleteTable")]
    alerts = run([rule(MATCH_ALL, SPEC)], rows)
    assert [a.event_ids for a in alerts] == [("ev-0000", "ev-0001")]


def test_wrong_order_other_actor_or_too_late_make_nothing() -> None:
    r = rule(MATCH_ALL, SPEC)
    assert run([r], [event(0, 0 * MIN, "DeleteTable"), event(1, 5 * MIN, "DeleteBackup")]) == []
    other = [event(0, 0 * MIN, "DeleteBackup"), event(1, 5 * MIN, "DeleteTable", user__name="bob")]
    assert run([r], other) == []
    late = [event(0, 0 * MIN, "DeleteBackup"), event(1, 61 * MIN, "DeleteTable")]
    assert run([r], late) == []


def test_the_rule_query_filters_every_step() -> None:
    shared = rule(action("DeleteTable"), SPEC)  # no DeleteBackup can pass this filter
    rows = [event(0, 0 * MIN, "DeleteBackup"), event(1, 5 * MIN, "DeleteTable")]
    assert run([shared], rows) == []
