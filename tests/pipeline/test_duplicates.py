"""One event delivered twice (an organization trail and an account trail over the same
account, or one file read from two places) counts once, for every rule type, in one run and
across runs, whatever the number of workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.pipeline.scan import scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import open_sources
from trailhound.state.store import Store

MANY_DELETED = "AWS DynamoDB Multiple Tables Deleted"  # threshold: 6 DeleteTable in 10 minutes


def _delete(n: int, account: str = "111122223333") -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": account,
                         "arn": f"arn:aws:iam::{account}:user/mallory"},
        "eventTime": f"2026-03-01T10:0{n}:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteTable",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"tableName": f"T{n}"},
        "eventID": f"0000000{n}-aaaa-bbbb-cccc-dddddddddddd",
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }  # fmt: skip


def _write(folder: Path, name: str, records: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"Records": records}))


def _alerts(paths: list[Path], state: Path | None = None, workers: int = 1) -> list[Any]:
    rules = load_rules([shipped_pack_dir()]).rules
    store = Store.open(state)
    try:
        result = scan(open_sources([str(p) for p in paths]), rules, store=store,
                      enricher=Enricher.create(), workers=workers)  # fmt: skip
    finally:
        store.close()
    return result.alerts


@pytest.mark.parametrize("workers", [1, 2])
def test_one_delete_delivered_six_times_is_one_delete(tmp_path: Path, workers: int) -> None:
    for copy in range(6):  # six trails over the same event
        _write(tmp_path / f"trail-{copy}", "f.json", [_delete(1)])
    alerts = _alerts([tmp_path], workers=workers)
    assert MANY_DELETED not in {a.rule.name for a in alerts}


def test_six_distinct_deletes_still_alert(tmp_path: Path) -> None:
    _write(tmp_path, "f.json", [_delete(n) for n in range(6)])
    assert MANY_DELETED in {a.rule.name for a in _alerts([tmp_path])}


def test_the_same_event_id_in_two_accounts_is_two_events(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", [_delete(n) for n in range(3)])
    _write(tmp_path, "b.json", [_delete(n, "444455556666") for n in range(3)])
    _write(tmp_path, "c.json", [_delete(n) for n in range(3, 6)])
    assert [a.rule.name for a in _alerts([tmp_path])].count(MANY_DELETED) == 1


def test_duplicates_across_runs_count_once(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    _write(tmp_path / "day1", "f.json", [_delete(n) for n in range(3)])
    assert MANY_DELETED not in {a.rule.name for a in _alerts([tmp_path / "day1"], state)}
    # the account's own trail delivers the same three again, then nothing new
    _write(tmp_path / "day1-again", "f.json", [_delete(n) for n in range(3)])
    assert MANY_DELETED not in {a.rule.name for a in _alerts([tmp_path / "day1-again"], state)}
    # three really new deletes complete the six
    _write(tmp_path / "day2", "f.json", [_delete(n) for n in range(3, 6)])
    assert MANY_DELETED in {a.rule.name for a in _alerts([tmp_path / "day2"], state)}


def test_a_query_rule_alerts_once_with_one_evidence_event(tmp_path: Path) -> None:
    backup = dict(_delete(1), eventName="DeleteBackup", requestParameters={
        "backupArn": "arn:aws:dynamodb:us-east-1:111122223333:table/T1/backup/01"})  # fmt: skip
    for copy in range(3):
        _write(tmp_path / f"trail-{copy}", "f.json", [backup])
    deleted = [a for a in _alerts([tmp_path]) if a.rule.name == "AWS DynamoDB Backup Deleted"]
    assert len(deleted) == 1
    assert list(deleted[0].event_ids) == [backup["eventID"]]
