"""The timeline: DynamoDB activity counted by the scan, bars per interval, a mark per alert."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from support.report_pages import AlertMaker
from trailhound.pipeline.coverage import TIMELINE_STEP
from trailhound.pipeline.scan import scan
from trailhound.report import Scope, gather
from trailhound.report.timeline import MOST_BARS, draw
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import open_sources
from trailhound.state.store import Store

MINUTE = 60_000_000


def us(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1_000_000)


def record(n: int, time: str, *, source: str = "dynamodb.amazonaws.com",
           account: str = "111122223333", region: str = "us-east-1") -> dict[str, Any]:  # fmt: skip
    return {
        "eventVersion": "1.10",
        "eventTime": time,
        "eventSource": source,
        "eventName": "DescribeTable",
        "eventID": f"synthetic-{n}",
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.1",
        "recipientAccountId": account,
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": account},
        "requestParameters": {"tableName": "orders"},
    }


def test_a_scan_counts_dynamodb_events_per_interval_account_and_region(tmp_path: Path) -> None:
    records = [
        record(0, "2026-03-07T08:00:10Z"),
        record(1, "2026-03-07T08:04:59Z"),
        record(2, "2026-03-07T08:05:00Z", region="eu-west-1"),
        record(3, "2026-03-07T09:31:00Z", account="444455556666"),
        record(4, "2026-03-07T08:01:00Z", source="s3.amazonaws.com"),  # not DynamoDB
    ]
    (tmp_path / "trail.json").write_bytes(orjson.dumps({"Records": records}))
    rules = load_rules([shipped_pack_dir()]).rules
    store = Store.open(None)
    try:
        result = scan(open_sources([str(tmp_path)]), rules, store=store, workers=1)
    finally:
        store.close()
    assert TIMELINE_STEP == 5 * MINUTE
    assert dict(result.coverage.timeline) == {
        us("2026-03-07T08:00:00"): 2,
        us("2026-03-07T08:05:00"): 1,
        us("2026-03-07T09:30:00"): 1,
    }
    assert dict(result.coverage.places) == {
        ("111122223333", "us-east-1"): 2,
        ("111122223333", "eu-west-1"): 1,
        ("444455556666", "us-east-1"): 1,
    }


def test_one_mark_per_alert_in_its_severity_lane(make_alert: AlertMaker) -> None:
    alerts = [
        make_alert(time="2026-03-07T08:00:00.000Z", severity="high"),
        make_alert(time="2026-03-07T09:00:00.000Z", severity="low"),
        make_alert(time="2026-03-07T09:00:00.000Z", severity="low"),
        make_alert(time="2026-03-07T10:00:00.000Z", severity="medium"),
    ]
    timeline = draw(gather(alerts, Scope.of_alerts("x")))
    assert timeline is not None
    assert len(timeline.marks) == 4
    assert [lane.severity for lane in timeline.lanes] == ["high", "medium", "low"]
    lanes = {lane.severity: lane.y for lane in timeline.lanes}
    for mark in timeline.marks:
        assert abs(mark.y - lanes[mark.alert.severity]) < 9  # inside its lane
    xs = [m.x for m in timeline.marks]
    assert xs[0] < xs[1] == xs[2] < xs[3]
    assert timeline.left <= xs[0] and xs[3] <= timeline.right
    # without events the bars count alerts, and say so
    assert timeline.counts == "alerts"
    assert sum(bar.count for bar in timeline.bars) == 4


def test_bars_count_the_scans_activity_in_fewer_than_the_most_bars(
    make_alert: AlertMaker,
) -> None:
    start = us("2026-03-01T00:00:00")
    activity = {start + i * TIMELINE_STEP: 3 for i in range(12 * 24 * 10)}  # ten days
    scope = Scope(origin="scan", events=100, activity=activity)
    alert = make_alert(time="2026-03-05T12:00:00.000Z")
    timeline = draw(gather([alert], scope))
    assert timeline is not None
    assert timeline.counts == "DynamoDB events"
    assert sum(bar.count for bar in timeline.bars) == sum(activity.values())
    assert len(timeline.bars) <= MOST_BARS
    assert timeline.step % TIMELINE_STEP == 0
    assert all(b.height <= timeline.bars_bottom - timeline.bars_top for b in timeline.bars)


def test_activity_outside_the_asked_window_is_left_out(make_alert: AlertMaker) -> None:
    start = us("2026-03-01T00:00:00")
    activity = {start: 5, start + 12 * TIMELINE_STEP: 7, start + 400 * TIMELINE_STEP: 100}
    since = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    until = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    scope = Scope(origin="scan", activity=activity, since=int(since.timestamp() * 1e6),
                  until=int(until.timestamp() * 1e6))  # fmt: skip
    timeline = draw(gather([], scope))
    assert timeline is not None
    assert sum(bar.count for bar in timeline.bars) == 7


def test_nothing_to_draw_without_time(make_alert: AlertMaker) -> None:
    assert draw(gather([], Scope.of_alerts("x"))) is None
