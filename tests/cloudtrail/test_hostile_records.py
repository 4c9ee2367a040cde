"""Records built to break a reader: absurd nesting and numbers JSON readers refuse. Each is kept
with the change said, or set aside with a clear reason; the records around it always survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.payloads import CUT, MAX_DEPTH
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.escaping import json_bytes
from trailhound.sources import open_sources

ECS_NAMES = {
    "requestParameters": "request_parameters",
    "responseElements": "response_elements",
    "additionalEventData": "additional_eventdata",
    "serviceEventDetails": "service_event_details",
}
MEMBERS = list(ECS_NAMES)


def _record(event_id: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        "eventTime": "2026-01-01T00:00:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteTable",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"tableName": "Orders"},
        "eventID": event_id,
    }


def _with(member: str, json_text: str) -> str:
    """A record whose `member` is `json_text`, verbatim (so it may hold what json.dumps can't)."""
    return json.dumps(_record("odd"))[:-1] + f', "{member}": {json_text}}}'


def _nested(depth: int) -> str:
    return '{"tableName": "Orders", "a": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


def _read(tmp_path: Path, odd: str) -> tuple[list[dict[str, Any]], Report]:
    text = '{"Records": [' + json.dumps(_record("before")) + ", " + odd + ", "
    text += json.dumps(_record("after")) + "]}"
    (tmp_path / "f.json").write_text(text)
    report = Report()
    docs = [
        doc
        for batch in read_events(open_sources([str(tmp_path)]), enricher=Enricher.create(),
                                 report=report)
        for doc in to_documents(batch)
    ]  # fmt: skip
    for doc in docs:
        json.loads(json_bytes(doc))  # every document can be written out
    return docs, report


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@pytest.mark.parametrize("member", MEMBERS)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 900])
def test_a_deep_member_is_cut_and_the_record_kept(member: str, depth: int, tmp_path: Path) -> None:
    docs, report = _read(tmp_path, _with(member, _nested(depth)))
    assert [d["event"]["id"] for d in docs] == ["before", "odd", "after"]
    (change,) = report.changes
    assert change.position == "record 2"
    assert change.note == f"{member}: nested more than {MAX_DEPTH} levels deep, cut there"
    odd = docs[1]["aws"]["cloudtrail"]
    flattened = odd["flattened"][ECS_NAMES[member]]
    assert _depth(flattened) <= MAX_DEPTH
    assert CUT in json.dumps(flattened)
    if member == "requestParameters":  # the rest of the record still counts
        assert docs[1]["aws"]["dynamodb"]["table_name"] == ["Orders"]


def test_nesting_no_reader_follows_sets_the_record_aside_with_its_reason(tmp_path: Path) -> None:
    docs, report = _read(tmp_path, _with("requestParameters", _nested(1000)))
    assert [d["event"]["id"] for d in docs] == ["before", "after"]
    (problem,) = report.problems
    assert problem.position == "record 2"
    assert "nested too deeply" in str(problem) or "depth limit" in str(problem)


def test_a_shallow_member_is_not_changed(tmp_path: Path) -> None:
    docs, report = _read(tmp_path, _with("requestParameters", _nested(MAX_DEPTH - 2)))
    assert not report.changes
    assert CUT not in json.dumps(docs[1])


def test_a_number_beyond_a_double_is_kept_as_infinity_and_said(tmp_path: Path) -> None:
    member = '{"tableName": "Orders", "limit": 1e999, "low": -2E+400}'
    docs, report = _read(tmp_path, _with("requestParameters", member))
    assert [d["event"]["id"] for d in docs] == ["before", "odd", "after"]
    text = docs[1]["aws"]["cloudtrail"]["request_parameters"]
    assert "limit=Infinity" in text and "low=-Infinity" in text  # as Java writes them
    (change,) = report.changes
    assert change.note == (
        "requestParameters: numbers 1e999, -2E+400 beyond a double's range, read as Infinity"
    )
    assert any("kept 1 record with a value changed" in line for line in report.summary())


def test_an_integer_with_hundreds_of_digits_is_kept_exactly(tmp_path: Path) -> None:
    digits = "9" * 400
    member = '{"tableName": "Orders", "n": ' + digits + "}"
    docs, report = _read(tmp_path, _with("requestParameters", member))
    odd = docs[1]["aws"]["cloudtrail"]
    assert f"n={digits}" in odd["request_parameters"]
    assert odd["flattened"]["request_parameters"]["n"] == int(digits)
    assert not report.changes and not report.problems


def test_a_time_zone_no_clock_has_sets_the_record_aside(tmp_path: Path) -> None:
    """An offset of 99 hours once ended the scan as an internal error."""
    odd = {**_record("odd"), "eventTime": "2026-01-01T00:00:00+99:00"}
    docs, report = _read(tmp_path, json.dumps(odd))
    assert [d["event"]["id"] for d in docs] == ["before", "after"]
    (problem,) = report.problems
    assert problem.position == "record 2"
    assert "eventTime" in str(problem)


def test_an_identity_with_such_a_time_keeps_its_record(tmp_path: Path) -> None:
    identity = {"type": "AssumedRole", "userName": "alice", "accountId": "111122223333",
                "sessionContext": {"attributes": {"creationDate": "2026-01-01T00:00:00+99:00"}}}
    docs, report = _read(tmp_path, json.dumps({**_record("odd"), "userIdentity": identity}))
    assert [d["event"]["id"] for d in docs] == ["before", "odd", "after"]
    assert not report.problems
