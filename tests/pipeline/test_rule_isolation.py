"""One rule that fails is reported by name and left out; every other rule runs and alerts as it
would have without it, and the failed rule's matches wait for a later run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from trailhound.cloudtrail.geo import Enricher
from trailhound.engine import detector as detector_module
from trailhound.engine.candidates import Outcome
from trailhound.engine.filtering import FilterPlan
from trailhound.engine.query import Decide
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.sources import open_sources
from trailhound.state.store import Store

BACKUP_DELETED = "AWS DynamoDB Backup Deleted"  # a query rule
MANY_DELETED = "AWS DynamoDB Multiple Tables Deleted"  # a threshold rule


def _event(n: int, action: str, **request: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "eventTime": f"2026-03-01T10:0{n}:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": action,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": request,
        "eventID": f"{action}-{n}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }  # fmt: skip


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    records = [_event(n, "DeleteTable", tableName=f"T{n}") for n in range(6)]
    backup = "arn:aws:dynamodb:us-east-1:111122223333:table/T1/backup/01"
    records.append(_event(7, "DeleteBackup", backupArn=backup))
    folder = tmp_path / "logs"
    folder.mkdir()
    for i, record in enumerate(records):  # one file each, so that two workers share them
        (folder / f"{i}.json").write_text(json.dumps({"Records": [record]}))
    return folder


def _scan(logs: Path, store: Store, workers: int | None = 1) -> ScanResult:
    rules = load_rules([shipped_pack_dir()]).rules
    return scan(open_sources([str(logs)]), rules, store=store, enricher=Enricher.create(),
                workers=workers)  # fmt: skip


def _names(result: ScanResult) -> list[str]:
    return sorted(a.rule.name for a in result.alerts)


# None: the small input is listed, read here and filtered in the state's own database
@pytest.mark.parametrize("workers", [1, 2, None])
def test_a_filter_that_fails_on_the_data_leaves_out_only_its_rule(
    logs: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _names(_scan(logs, Store.open(None)))
    assert {BACKUP_DELETED, MANY_DELETED} <= set(expected)
    build = FilterPlan.build

    def broken(*args: Any, **kwargs: Any) -> FilterPlan:
        plan = build(*args, **kwargs)
        filters = tuple(
            f.with_tree(sqlglot.parse_one('CAST("event.action" AS INTEGER) = 1'))
            if f.rule_id == _rule_id(MANY_DELETED) else f
            for f in plan.filters
        )  # fmt: skip
        return dataclasses.replace(plan, filters=filters)

    monkeypatch.setattr(FilterPlan, "build", broken)
    result = _scan(logs, Store.open(None), workers)
    assert _names(result) == [n for n in expected if n != MANY_DELETED]
    assert "ConversionException" in result.stats.failed[MANY_DELETED]
    assert list(result.stats.failed) == [MANY_DELETED]


def test_a_rule_type_that_raises_leaves_out_only_its_rules_whose_matches_wait(
    logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(store: Store, rule: Rule, cutoff: int) -> Outcome:
        raise ValueError("a bug met odd data")

    def fails_together(store: Store, rules: Sequence[Rule], cutoff: int) -> Decide:
        raise ValueError("a bug met odd data")

    state = tmp_path / "state.duckdb"
    with monkeypatch.context() as patched:  # whichever way threshold rules are decided
        patched.setitem(detector_module._EVALUATORS, "threshold", fails)
        patched.setitem(detector_module._READ_TOGETHER, "threshold", fails_together)
        store = Store.open(state)
        first = _scan(logs, store)
        store.close()
    assert BACKUP_DELETED in _names(first) and MANY_DELETED not in _names(first)
    assert first.stats.failed[MANY_DELETED] == "ValueError: a bug met odd data"
    # the fault fixed, the next run decides what waited, and repeats nothing
    (tmp_path / "nothing-new").mkdir()
    store = Store.open(state)
    second = _scan(tmp_path / "nothing-new", store)
    store.close()
    assert _names(second) == [MANY_DELETED]


def _rule_id(name: str) -> str:
    rules = load_rules([shipped_pack_dir()]).rules
    return next(r.rule_id for r in rules if r.name == name)
