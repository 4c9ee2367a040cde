"""What a worker's stage counts of every record it reads, kept or not: events, the newest
event time, and the DynamoDB calls by category, time and place (for the coverage notes)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.stage import Stage, StageOutput, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob
from trailhound.sources.files import open_local

DYNAMODB = "dynamodb.amazonaws.com"


def _record(n: int, source: str, action: str, **more: str) -> dict[str, object]:
    return {
        "eventTime": f"2026-03-02T09:{n:02d}:00Z", "eventSource": source, "eventName": action,
        "eventID": f"e{n}", "eventCategory": "Data", "userIdentity": {"type": "IAMUser"},
        **more,
    }  # fmt: skip


def _stage_outputs(
    tmp_path: Path, records: list[dict[str, object]], skim: str
) -> list[StageOutput]:
    """What a worker's stage gives for one records file of these records."""
    (tmp_path / "trail.json").write_text(json.dumps({"Records": records}))
    rules = load_rules([shipped_pack_dir()]).rules
    now = datetime(2026, 3, 3, tzinfo=UTC)
    plan = StagePlan.build(
        rules, enricher=Enricher.create(), filters=FilterPlan.build(rules, now=now), skim=skim
    )
    blobs = [b for b in open_local(str(tmp_path)).blobs() if isinstance(b, Blob)]
    return list(Stage(plan).run(blobs, Report()))


@pytest.mark.parametrize("skim", ["off", "reference", "compiled"])
def test_every_record_read_is_counted_where_it_belongs(tmp_path: Path, skim: str) -> None:
    records = [
        _record(1, DYNAMODB, "GetItem", recipientAccountId="111", awsRegion="us-east-1"),
        _record(2, DYNAMODB, "GetItem", recipientAccountId="111", awsRegion="us-east-1"),
        _record(3, DYNAMODB, "PutItem", awsRegion="eu-west-1"),  # no account
        _record(4, DYNAMODB, "PutItem", recipientAccountId="222"),  # no region
        _record(5, DYNAMODB, "PutItem", recipientAccountId="", awsRegion=""),
        _record(9, "s3.amazonaws.com", "GetObject", recipientAccountId="111"),
    ]
    outputs = _stage_outputs(tmp_path, records, skim)
    assert sum(o.events for o in outputs) == 6
    assert max(o.latest or 0 for o in outputs) == int(
        datetime(2026, 3, 2, 9, 9, tzinfo=UTC).timestamp() * 1_000_000
    )
    places: Counter[tuple[str, str]] = Counter()
    for out in outputs:
        places.update(out.dynamodb_places)
    assert places == {("111", "us-east-1"): 2, ("", "eu-west-1"): 1, ("222", ""): 1, ("", ""): 1}
    assert sum(sum(o.dynamodb_times.values()) for o in outputs) == 5


@pytest.mark.parametrize("skim", ["off", "reference", "compiled"])
def test_a_time_only_python_reads_still_counts_in_the_timeline(tmp_path: Path, skim: str) -> None:
    # a padded time is not Arrow's to parse, so the output's times are parsed the slow way:
    # the DynamoDB timeline and the newest time must come out as with every time tidy
    records = [
        _record(1, DYNAMODB, "GetItem") | {"eventTime": " 2026-03-02T09:01:00Z"},
        _record(7, DYNAMODB, "PutItem"),
        _record(8, "s3.amazonaws.com", "GetObject"),
    ]
    outputs = _stage_outputs(tmp_path, records, skim)
    step = 5 * 60 * 1_000_000
    minute = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp() * 1_000_000)
    timeline: Counter[int] = Counter()
    for out in outputs:
        timeline.update(out.dynamodb_times)
    assert timeline == {minute: 1, minute + step: 1}
    assert max(o.latest or 0 for o in outputs) == minute + 8 * 60 * 1_000_000
