"""The answer key's semantics (DESIGN 3.2 and issue 5), checked on hand-made event streams."""

from __future__ import annotations

import random
from typing import Any

from trailhound.simulate.expected import checks
from trailhound.simulate.facts import Facts
from trailhound.simulate.oracle import ExpectedAlert, Oracle

MIN, HOUR, DAY = 60, 3600, 86400
ACCOUNT = "111122223333"


def _event(n: int, t: int, action: str, *, user: str = "app-role", table: str = "Orders",
           ip: str = "81.2.69.160", error: str | None = None,
           params: dict[str, Any] | None = None) -> Facts:
    rec: dict[str, Any] = {
        "userIdentity": {"type": "AssumedRole", "accountId": ACCOUNT,
                         "sessionContext": {"sessionIssuer": {"userName": user}}},
        "eventID": f"evt-{n:04d}",
        "eventName": action,
        "eventSource": "dynamodb.amazonaws.com",
        "sourceIPAddress": ip,
        "requestParameters": {"tableName": table} if params is None else params,
        "recipientAccountId": ACCOUNT,
    }
    if error:
        rec["errorCode"] = error
    countries = {"81.2.69.160": "GB", "146.70.117.9": "RO"}
    return Facts(rec, t, countries.get)


def _run(events: list[Facts]) -> tuple[list[bool], list[ExpectedAlert]]:
    oracle = Oracle(checks())
    kept = [oracle.offer(e) for e in events]
    return kept, oracle.alerts()


def _of(alerts: list[ExpectedAlert], rule: str) -> list[tuple[str, int]]:
    return [(a.first_event_id, a.count) for a in alerts if a.rule == rule]


def test_suppression_folds_an_hour_of_one_group_into_its_first_alert() -> None:
    times = [0, 10 * MIN, HOUR - 1, HOUR + 1, HOUR + 5 * MIN]
    _, alerts = _run([_event(i, t, "DeleteItem") for i, t in enumerate(times)])
    assert _of(alerts, "AWS DynamoDB Table Item Deleted") == [("evt-0000", 3), ("evt-0003", 2)]


def test_suppression_groups_by_table() -> None:
    events = [_event(0, 0, "Scan", table="A"), _event(1, 5, "Scan", table="B"),
              _event(2, 9, "Scan", table="A")]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Table Scanned") == [("evt-0000", 2), ("evt-0001", 1)]


def test_an_event_on_the_edge_of_a_suppression_window_is_refused() -> None:
    kept, _ = _run([_event(0, 0, "PutItem"), _event(1, HOUR, "PutItem")])
    assert kept == [True, False]


def test_a_tie_with_the_event_that_opened_a_window_is_refused() -> None:
    kept, _ = _run([_event(0, 100, "PutItem"), _event(1, 100, "PutItem")])
    assert kept == [True, False]


def _deletions(n: int, spacing: int = 30) -> list[Facts]:
    return [_event(i, i * spacing, "DeleteTable", table=f"t{i}") for i in range(n)]


def test_eight_deletions_in_ten_minutes_make_one_alert() -> None:
    _, alerts = _run(_deletions(8))
    assert _of(alerts, "AWS DynamoDB Multiple Tables Deleted") == [("evt-0000", 6)]


def test_twelve_deletions_in_ten_minutes_make_two_alerts() -> None:
    _, alerts = _run(_deletions(12))
    assert _of(alerts, "AWS DynamoDB Multiple Tables Deleted") == [("evt-0000", 6),
                                                                   ("evt-0006", 6)]


def test_five_deletions_do_not_reach_the_threshold() -> None:
    _, alerts = _run(_deletions(5))
    assert _of(alerts, "AWS DynamoDB Multiple Tables Deleted") == []


def test_the_window_slides_in_event_time() -> None:
    # seven deletions over 12.6 minutes: only the last six fall within ten
    times = [0, 160, 300, 450, 590, 700, 755]
    events = [_event(i, t, "DeleteTable", table=f"t{i}") for i, t in enumerate(times)]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Multiple Tables Deleted") == [("evt-0001", 6)]


def _deletions_at(times: list[int]) -> list[Facts]:
    return [_event(i, t, "DeleteTable", table=f"t{i}") for i, t in enumerate(times)]


def test_the_window_edge_is_refused_where_it_decides_an_alert() -> None:
    # the sixth deletion comes exactly ten minutes after the first: in or out by convention
    kept, _ = _run(_deletions_at([0, 100, 200, 300, 400, 600]))
    assert kept == [True] * 5 + [False]


def test_the_window_edge_is_kept_where_it_decides_nothing() -> None:
    kept, _ = _run(_deletions_at([0, 600]))
    assert kept == [True, True]


def test_a_tie_that_decides_which_event_opens_an_alert_is_refused() -> None:
    kept, _ = _run(_deletions_at([0, 100, 200, 300, 400, 400]))
    assert kept == [True] * 5 + [False]


def test_access_denied_needs_three_different_calls() -> None:
    same = [_event(i, i * 10, "GetItem", error="AccessDenied") for i in range(8)]
    _, alerts = _run(same)
    assert _of(alerts, "AWS DynamoDB Burst of Access Denied Errors") == []
    mixed = [_event(i, i * 10, action, error="AccessDeniedException")
             for i, action in enumerate(["GetItem", "GetItem", "Scan", "Query", "Query"])]
    _, alerts = _run(mixed)
    assert _of(alerts, "AWS DynamoDB Burst of Access Denied Errors") == [("evt-0000", 5)]


def test_new_country_waits_for_the_learning_period() -> None:
    events = [
        _event(0, 0, "GetItem"),
        _event(1, 71 * HOUR, "GetItem", user="other"),  # new, but still learning
        _event(2, 73 * HOUR, "GetItem", ip="146.70.117.9"),  # new country: alert
        _event(3, 74 * HOUR, "GetItem", ip="146.70.117.9"),  # seen an hour ago
        _event(4, 75 * HOUR, "GetItem", user="other"),  # seen during learning
    ]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Activity From New Country") == [("evt-0002", 1)]


def test_failed_calls_teach_no_country() -> None:
    events = [_event(0, 0, "GetItem"),
              _event(1, 10 * HOUR, "GetItem", ip="146.70.117.9", error="AccessDenied"),
              _event(2, 80 * HOUR, "GetItem", ip="146.70.117.9")]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Activity From New Country") == [("evt-0002", 1)]


def test_a_term_unseen_for_longer_than_the_history_is_new_again() -> None:
    events = [_event(0, 0, "Scan"), _event(1, 1 * DAY, "Scan"), _event(2, 16 * DAY, "Scan")]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Scan by Unusual User") == [("evt-0000", 1),
                                                                 ("evt-0002", 1)]


def _pitr_off(n: int, t: int) -> Facts:
    params = {"tableName": "Orders",
              "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": False}}
    return _event(n, t, "UpdateContinuousBackups", params=params)


def test_backup_deleted_then_table_deleted_within_an_hour() -> None:
    events = [_event(0, 0, "DeleteBackup", params={"backupArn": "arn:x"}),
              _event(1, 40 * MIN, "DeleteTable")]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Backups Deleted Then Table Deleted") == [("evt-0000", 2)]


def test_the_sequence_expires_after_its_maxspan() -> None:
    _, alerts = _run([_pitr_off(0, 0), _event(1, HOUR + 1, "DeleteTable")])
    assert _of(alerts, "AWS DynamoDB Backups Deleted Then Table Deleted") == []
    assert _of(alerts, "AWS DynamoDB Point-In-Time Recovery Disabled") == [("evt-0000", 1)]


def test_the_sequence_is_joined_by_actor() -> None:
    events = [_pitr_off(0, 0), _event(1, 10 * MIN, "DeleteTable", user="someone-else")]
    _, alerts = _run(events)
    assert _of(alerts, "AWS DynamoDB Backups Deleted Then Table Deleted") == []


def test_batch_writes_count_by_the_requests_they_hold() -> None:
    deletes = {"requestItems": {"Orders": [{"deleteRequest": {"key": {"id": "1"}}}]}}
    puts = {"requestItems": {"Orders": [{"putRequest": {"key": {"id": "2"}, "item": ["id"]}}]}}
    _, alerts = _run([_event(0, 0, "BatchWriteItem", params=deletes),
                      _event(1, 5, "BatchWriteItem", params=puts)])
    assert _of(alerts, "AWS DynamoDB Table Item Deleted") == [("evt-0000", 1)]
    assert _of(alerts, "AWS DynamoDB Table Item Updated") == [("evt-0001", 1)]


# -- issue 13 ------------------------------------------------------------------------------------

READS = "AWS DynamoDB Unusual Read Volume"
KEY_RULE = "AWS DynamoDB Table Key Disabled or Scheduled for Deletion"
KEY = "arn:aws:kms:us-east-1:111122223333:key/6b8c2f1e-4d3a-4e5b-9c7d-1a2b3c4d5e6f"


def _batch_get(n: int, t: int, keys: int) -> Facts:
    params = {"requestItems": {"Orders": {"keys": [{"id": str(i)} for i in range(keys)]}}}
    return _event(n, t, "BatchGetItem", params=params)


def _history(days: int, per_day: int = 3) -> list[Facts]:
    """`per_day` GetItems in the 09:00 hour of each day."""
    return [_event(100 * d + i, d * DAY + 9 * HOUR + i * MIN, "GetItem")
            for d in range(days) for i in range(per_day)]  # fmt: skip


def test_read_volume_counts_items_and_alerts_at_the_crossing_event() -> None:
    # mean 3 an hour: the bar is max(100, 10 x 3) = 100 items
    spike = [_batch_get(900, 2 * DAY + 2 * HOUR, 60), _batch_get(901, 2 * DAY + 2 * HOUR + 60, 40),
             _batch_get(902, 2 * DAY + 2 * HOUR + 120, 50)]  # fmt: skip
    _, alerts = _run(_history(2) + spike)
    assert _of(alerts, READS) == [("evt-0901", 100)]


def test_read_volume_waits_out_the_warm_up() -> None:
    # active only since 09:00 yesterday: at 02:00 that is 17 hours, less than 24
    _, alerts = _run([*_history(1), _batch_get(900, DAY + 2 * HOUR, 500)])
    assert _of(alerts, READS) == []


def test_read_volume_refuses_a_crossing_tied_with_another_read() -> None:
    spike = [_batch_get(900, 2 * DAY + 2 * HOUR, 50), _batch_get(901, 2 * DAY + 2 * HOUR, 50)]
    kept, _ = _run(_history(2) + spike)
    assert kept[-2:] == [True, False]


def _deletes(n: int, t: int, items: int) -> Facts:
    requests = [{"deleteRequest": {"key": {"id": str(i)}}} for i in range(items)]
    return _event(n, t, "BatchWriteItem", params={"requestItems": {"Orders": requests}})


def test_mass_deletion_counts_deleted_items_not_calls() -> None:
    deletes = _deletes
    _, alerts = _run([deletes(i, i * MIN, 25) for i in range(4)])
    assert _of(alerts, "AWS DynamoDB Mass Item Deletion") == [("evt-0000", 100)]
    _, alerts = _run([deletes(i, i * MIN, 25) for i in range(3)] + [deletes(3, 4 * MIN, 24)])
    assert _of(alerts, "AWS DynamoDB Mass Item Deletion") == []


MASS = "AWS DynamoDB Mass Item Deletion"


def test_a_deletion_in_the_second_that_completed_an_alert_is_refused() -> None:
    # 97 items, then 25 and 1 in one second: batch first alerts with 122 and the single
    # opens the next window; single first alerts with 123. Only one of them may be written.
    events = [_deletes(0, 0, 25), _deletes(1, 60, 25), _deletes(2, 120, 25),
              _deletes(3, 180, 22), _deletes(4, 240, 25), _event(5, 240, "DeleteItem")]
    kept, alerts = _run(events)
    assert kept == [True] * 5 + [False]
    assert _of(alerts, MASS) == [("evt-0000", 122)]


def test_a_threshold_group_never_holds_two_events_of_one_second() -> None:
    # a tie far from the bar is the window's head ten minutes later, where it would decide
    # the alert's first event: refused when it happens, not at every crossing after it
    events = [_deletes(0, 0, 10), _deletes(1, 10, 30), _deletes(2, 10, 30), _deletes(3, 605, 50)]
    kept, _ = _run(events)
    assert kept == [True, True, False, True]


def _replayed(events: list[Facts]) -> list[ExpectedAlert]:
    """What the checks decide over `events` in the order given, no event refused: an engine's
    view of the written trail, whatever order it gives to calls of the same second."""
    oracle = Oracle(checks())
    for f in events:
        for check in oracle.interested(f.source, f.action):
            if check.matches(f):
                check.commit(f)
    return oracle.alerts()


def test_the_alerts_of_what_was_kept_do_not_depend_on_the_order_within_a_second() -> None:
    rng = random.Random(7)
    events = sorted(
        (_deletes(n, rng.randrange(1800), 25) if rng.random() < 0.3
         else _event(n, rng.randrange(1800), "DeleteItem") for n in range(400)),
        key=lambda f: (f.t, f.event_id))
    kept, alerts = _run(events)
    written = [f for f, ok in zip(events, kept, strict=True) if ok]
    assert _of(alerts, MASS), "the stream should reach the bar"
    backwards = sorted(written, key=lambda f: (-f.t, f.event_id), reverse=True)
    for order in (written, backwards):
        found = _replayed(order)
        assert [(a.rule, a.first_event_id, a.count) for a in found] == [
            (a.rule, a.first_event_id, a.count) for a in alerts]


def _kms(n: int, t: int, action: str, table: str | None = None) -> Facts:
    rec: dict[str, Any] = {
        "userIdentity": {"type": "AWSService", "invokedBy": "dynamodb.amazonaws.com"}
        if table else {"type": "AssumedRole", "accountId": ACCOUNT,
                       "sessionContext": {"sessionIssuer": {"userName": "admin"}}},
        "eventID": f"evt-{n:04d}", "eventName": action, "eventSource": "kms.amazonaws.com",
        "sourceIPAddress": "dynamodb.amazonaws.com",
        "requestParameters": {"encryptionContext": {"aws:dynamodb:tableName": table}}
        if table else {"keyId": KEY},
        "resources": [{"type": "AWS::KMS::Key", "ARN": KEY}], "recipientAccountId": ACCOUNT,
    }  # fmt: skip
    return Facts(rec, t, lambda ip: None)


def test_a_key_alerts_with_the_tables_it_protected_within_its_memory() -> None:
    events = [_kms(0, 0, "Decrypt", "orders"), _kms(1, 10, "GenerateDataKey", "customers"),
              _kms(2, DAY, "DisableKey")]  # fmt: skip
    _, alerts = _run(events)
    found = [a for a in alerts if a.rule == KEY_RULE]
    assert [(a.first_event_id, a.key["aws.dynamodb.table_name"]) for a in found] == [
        ("evt-0002", "customers, orders")
    ]
    _, alerts = _run([_kms(0, 0, "Decrypt", "orders"), _kms(1, 90 * DAY + 1, "DisableKey")])
    assert _of(alerts, KEY_RULE) == []


def test_a_fact_in_the_same_second_as_the_key_change_is_refused() -> None:
    kept, _ = _run([_kms(0, 100, "DisableKey"), _kms(1, 100, "Decrypt", "orders")])
    assert kept == [True, False]
