"""Reading records files through a skimmer changes nothing a user sees: the same alerts,
counts, evidence and coverage, and the same account of bad input, file by file and position
by position, as decoding every record; files the skimmer refuses are read the usual way."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest

from trailhound.cloudtrail import columnar, skim_rows
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.partial import PartialNormalizer
from trailhound.cloudtrail.reader import Skim, read_selected
from trailhound.cloudtrail.record import Record, decode_record, decode_records_file
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import Admission, Skimmed, Skimmer
from trailhound.cloudtrail.skim_reference import reference_skimmer
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows
from trailhound.engine.filtering import FilterPlan
from trailhound.engine.prefilter import Selection
from trailhound.pipeline import scan as scanning
from trailhound.pipeline import stage
from trailhound.pipeline.coverage import COUNTED_PATHS
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.pipeline.stage import SKIM_VARIABLE, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources import Blob
from trailhound.sources.files import open_local
from trailhound.state.store import Store

DYNAMODB = "dynamodb.amazonaws.com"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=2, seed=7, events=12_000)
    return out


def run(folder: Path, workers: int) -> ScanResult:
    store = Store.open(None)
    try:
        rules = load_rules([shipped_pack_dir()]).rules
        return scan([open_local(str(folder))], rules, store=store, workers=workers)
    finally:
        store.close()


def seen(result: ScanResult) -> dict[str, Any]:
    """Everything a user is told, but when the events were read."""
    alerts = {}
    for alert in result.alerts:
        evidence = json.loads(json.dumps(alert.evidence, default=str))
        for document in evidence:
            document.get("event", {}).pop("ingested", None)
        alerts[alert.id] = (alert.count, alert.event_ids, evidence)
    report = result.report
    return {
        "alerts": alerts,
        "events": result.stats.events,
        "matched": result.stats.matched,
        "read": (report.files_read, report.records_normalized),
        "problems": [(p.reason, p.where, p.position, p.detail, p.records) for p in report.problems],
        "skipped": report.skipped,
        "changes": report.changes,
        "summary": report.summary(),
        "coverage": (result.coverage.dynamodb, result.coverage.timeline, result.coverage.places),
    }


def both_ways(
    folder: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.setenv(SKIM_VARIABLE, "off")
    usual = seen(run(folder, workers))
    monkeypatch.setenv(SKIM_VARIABLE, "reference")
    return usual, seen(run(folder, workers))


@pytest.mark.parametrize(("workers", "batch_size"), [(1, None), (2, None), (1, 257), (2, 1000)])
def test_the_skimmer_s_columns_give_what_decoding_every_record_gives(
    corpus: Path, workers: int, batch_size: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if batch_size is not None:

        class Batches(StagePlan):
            @classmethod
            def build(cls, rules: Any, **options: Any) -> StagePlan:
                return StagePlan.build(rules, **{**options, "batch_size": batch_size})

        monkeypatch.setattr(scanning, "StagePlan", Batches)
    usual, skimmed = both_ways(corpus, workers, monkeypatch)
    assert usual["alerts"] and usual["events"] > 10_000
    assert skimmed == usual


def _record(n: int, action: str = "DeleteTable", **more: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "eventTime": f"2026-03-01T10:0{n}:00Z", "eventSource": DYNAMODB, "eventName": action,
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"tableName": f"T{n}"}, "eventID": f"id-{n}",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333", **more,
    }  # fmt: skip


def _records_file(path: Path, records: list[Any], *, indent: int | None = None) -> bytes:
    text = json.dumps({"Records": records}, indent=indent).encode()
    path.write_bytes(gzip.compress(text))
    return text


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Files the skimmer reads, and files it refuses or never sees, side by side."""
    _records_file(tmp_path / "a-good.json.gz", [_record(1), _record(2)], indent=2)
    # a record that is no record (eventTime a number): the skimmer refuses the file
    _records_file(tmp_path / "b-bad-record.json.gz", [_record(3), {**_record(4), "eventTime": 4}])
    # a record the skimmer reads but normalizing sets aside: reported from the skimmed rows
    _records_file(tmp_path / "c-bad-time.json.gz", [_record(5), _record(6, eventTime="noon")])
    lines = [json.dumps(_record(7)), "{not json", json.dumps(_record(8))]
    (tmp_path / "d-lines.ndjson").write_text("\n".join(lines))
    whole = gzip.compress(json.dumps({"Records": [_record(9), _record(1)]}).encode())
    (tmp_path / "e-truncated.json.gz").write_bytes(whole[: len(whole) * 2 // 3])
    _records_file(tmp_path / "f-empty.json.gz", [])
    return tmp_path


@pytest.mark.parametrize("workers", [1, 2])
def test_a_mix_of_skimmed_and_refused_files_reports_the_same_problems_and_alerts(
    mixed: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    usual, skimmed = both_ways(mixed, workers, monkeypatch)
    assert skimmed == usual
    places = {(Path(where).name, position) for _, where, position, _, _ in usual["problems"]}
    assert {("b-bad-record.json.gz", "record 2"), ("c-bad-time.json.gz", "record 2"),
            ("d-lines.ndjson", "line 2")} <= places  # fmt: skip
    assert any(Path(p[1]).name == "e-truncated.json.gz" for p in usual["problems"])
    assert usual["alerts"] and usual["events"] == 7  # records set aside are not counted


def _skim_step(selection: Selection, skimmer_paths: list[str]) -> Skim:
    normalizer = SkimNormalizer(lambda source, action: frozenset({"event.id", "@timestamp"}))
    pick = selection.column_picker()

    def select(skimmed: Skimmed) -> list[int]:
        return pick(skimmed.columns["eventSource"], skimmed.columns["eventName"])

    return Skim(reference_skimmer(skimmer_paths), select, normalizer)


def test_kept_records_are_their_own_json_text_not_their_file_s(tmp_path: Path) -> None:
    records = [_record(1), _record(2, "DescribeTable"), _record(3, "PutItem"), _record(4)]
    text = _records_file(tmp_path / "trail.json.gz", records, indent=1)
    selection = Selection(frozenset({(DYNAMODB, "DeleteTable")}))
    blobs = [b for b in open_local(str(tmp_path)).blobs() if isinstance(b, Blob)]
    parts = list(
        read_selected(
            blobs, enricher=Enricher.create(), report=Report(),
            skim=_skim_step(selection, ["eventSource", "eventName"]),
        )
    )  # fmt: skip
    kept = [item for part in parts for item in part.records]
    assert all(isinstance(item, msgspec.Raw) for item in kept)
    texts = [bytes(item) for item in kept if isinstance(item, msgspec.Raw)]
    assert [decode_record(t) for t in texts] == [decode_records_file(text)[i] for i in (0, 3)]
    assert all(t in text and len(t) < len(text) // 2 for t in texts)
    assert [r for p in parts for r in p.batch.column("event.id").to_pylist()] == ["id-1", "id-4"]


SOURCES = [DYNAMODB, "s3.amazonaws.com", "kms.amazonaws.com", None]
ACTIONS = ["PutItem", "GetItem", "DeleteTable", "GetObject", "Decrypt"]


@pytest.mark.parametrize("seed", range(6))
def test_picking_from_columns_picks_what_picking_records_picks(seed: int) -> None:
    chance = random.Random(seed)
    pairs = {(chance.choice(SOURCES), chance.choice([*ACTIONS, None])) for _ in range(3)}
    if seed == 5:  # a name holding the character that joins provider and action
        pairs.add((f"{DYNAMODB}\x00PutItem", "GetItem"))
    selection = Selection(None if seed == 0 else frozenset(pairs))
    rows = [(chance.choice(SOURCES), chance.choice(ACTIONS)) for _ in range(200)]
    records = [decode_record(json.dumps(_record(1, a, eventSource=s)).encode()) for s, a in rows]
    by_columns = selection.column_picker()(
        pa.array([s for s, _ in rows], pa.string()), pa.array([a for _, a in rows], pa.string())
    )
    assert by_columns == selection.picker()(records)


def _wanted(source: str | None, action: str | None) -> frozenset[str]:
    extra = {"aws.dynamodb.table_name"} if action == "PutItem" else set()
    return frozenset({"event.id", "@timestamp", "event.action", *extra})


READ_AT = datetime(2026, 3, 2, tzinfo=UTC)


def _rows(records: list[dict[str, Any]], paths: list[str]) -> tuple[bytes, SkimRows]:
    text = json.dumps({"Records": records}).encode()
    skimmed = reference_skimmer(paths)(text)
    assert skimmed is not None
    starts, ends = skimmed.starts.to_pylist(), skimmed.ends.to_pylist()
    return text, SkimRows([text[s:e] for s, e in zip(starts, ends, strict=True)], skimmed.columns)


MIXED_RECORDS = [
    _record(1), _record(2, "PutItem"), _record(3, eventTime="noon"), _record(4),
    _record(5, "PutItem", userIdentity={"type": "Root"}), _record(6, "PutItem"),
]  # fmt: skip


def test_skimmed_rows_normalize_as_their_records_do() -> None:
    text, rows = _rows(MIXED_RECORDS, ["eventSource", "eventName"])
    enricher = Enricher.create()
    by_text = SkimNormalizer(_wanted)(rows, READ_AT, enricher)
    usual = PartialNormalizer(_wanted)(decode_records_file(text), READ_AT, enricher)
    assert by_text.rejected == usual.rejected == [(2, "eventTime 'noon' is not a date and time")]
    assert by_text.order == usual.order
    assert by_text.batch.equals(usual.batch)


def _noting(source: str | None, action: str | None) -> frozenset[str]:
    """DeleteTable and PutItem want different fields that both read the request in full (so
    its changes are noted); GetItem's fields do not read it."""
    base = {"event.id", "@timestamp"}
    if action == "DeleteTable":
        return frozenset({*base, "aws.cloudtrail.flattened.request_parameters"})
    if action == "PutItem":
        return frozenset({*base, "aws.dynamodb.table_name", "aws.cloudtrail.request_parameters"})
    return frozenset(base)


def test_small_groups_left_rows_share_a_call_with_their_own_fields_and_notes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    huge = {"requestParameters": {"tableName": "T", "size": "HUGE"}}  # beyond a double's range
    records = [
        _record(1, "DeleteTable", **huge), _record(2, "PutItem", **huge),
        _record(3, "GetItem", **huge), _record(4, "PutItem"),
        _record(5, "DeleteTable", eventTime="noon"), _record(6, "GetItem"),
    ]  # fmt: skip
    spans = [json.dumps(r).replace('"HUGE"', "1e999").encode() for r in records]
    text = b'{"Records": [' + b", ".join(spans) + b"]}"
    columns = {
        path: pa.array([r[path] for r in records], pa.string())
        for path in ("eventSource", "eventName")
    }
    calls: list[int] = []
    real = skim_rows.normalize

    def counted(records: Sequence[Record], **options: Any) -> Any:
        calls.append(len(records))
        return real(records, **options)

    monkeypatch.setattr(skim_rows, "normalize", counted)
    enricher = Enricher.create()
    made = SkimNormalizer(_noting)(SkimRows(spans, columns), READ_AT, enricher)
    # DeleteTable's and PutItem's rows share one call, GetItem's (which notes nothing) its own
    assert sorted(calls) == [2, 4]
    usual = PartialNormalizer(_noting)(decode_records_file(text), READ_AT, enricher)
    assert made.rejected == usual.rejected == [(4, "eventTime 'noon' is not a date and time")]
    noted = "requestParameters: number 1e999 beyond a double's range, read as Infinity"
    assert made.notes == usual.notes == [(0, noted), (1, noted)]
    assert made.order is not None and usual.order is not None
    by_record = dict(zip(usual.order, usual.batch.to_pylist(), strict=True))
    assert made.batch.to_pylist() == [by_record[i] for i in made.order]


@dataclass
class _Made:
    batch: pa.RecordBatch
    done: list[int]
    left: list[int]


def _every_other_row(
    columns: dict[str, pa.Array],
    fields: frozenset[str],
    ingested: datetime,
    enricher: Enricher,
) -> _Made:
    """Builds the even rows of a group from its skimmed columns (these records hold nothing
    else that the wanted fields read), and leaves the odd ones."""
    offered = columns["eventName"].to_pylist()
    assert "DeleteTable" not in offered  # what the normalizer does not take is never offered
    names = list(columns)
    rows = [
        dict(zip(names, values, strict=True))
        for values in zip(*(c.to_pylist() for c in columns.values()), strict=True)
    ]
    done = list(range(0, len(rows), 2))
    records = [_from_columns(rows[i]) for i in done]
    made = normalize(records, ingested=ingested, enricher=enricher, fields=fields)
    assert not made.rejected
    return _Made(made.batch, done, list(range(1, len(rows), 2)))


def _from_columns(row: dict[str, str | None]) -> Record:
    nested: dict[str, Any] = {}
    for path, value in row.items():
        *parents, name = path.split(".")
        place = nested
        for parent in parents:
            place = place.setdefault(parent, {})
        place[name] = value
    return decode_record(json.dumps(nested).encode())


def test_rows_built_from_columns_join_the_rows_built_from_records() -> None:
    paths = ["eventSource", "eventName", "eventTime", "eventID", "requestParameters.tableName"]
    records = [_record(n, "PutItem", userIdentity={"type": "IAMUser"}) for n in range(1, 8)]
    for record in records:
        del record["eventVersion"], record["awsRegion"], record["sourceIPAddress"]
        del record["eventType"], record["recipientAccountId"]
    records[3]["eventTime"] = "noon"  # left by the columnar step: rejected the usual way
    records[6]["eventName"] = "DeleteTable"
    text, rows = _rows(records, paths)
    enricher = Enricher.create()
    wanted = lambda s, a: frozenset({"event.id", "@timestamp", "aws.dynamodb.table_name"})  # noqa: E731
    by_columns = SkimNormalizer(
        wanted, _every_other_row, paths[2:], takes=lambda _fields, _source, act: act == "PutItem"
    )
    assert set(paths) <= set(by_columns.paths)
    made = by_columns(rows, READ_AT, enricher)
    usual = PartialNormalizer(wanted)(decode_records_file(text), READ_AT, enricher)
    assert made.rejected == usual.rejected == [(3, "eventTime 'noon' is not a date and time")]
    assert made.order is not None and sorted(made.order) == [0, 1, 2, 4, 5, 6]
    usual_rows = usual.batch.to_pylist()
    assert made.batch.to_pylist() == [usual_rows[[0, 1, 2, 4, 5, 6].index(i)] for i in made.order]


def test_a_stage_asks_its_skimmer_for_the_raw_paths_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[list[str], tuple[str, ...]]] = []

    def recording(
        paths: Sequence[str], raw: Collection[str] = (), admission: Admission | None = None
    ) -> Skimmer:
        asked.append((list(paths), tuple(raw)))
        return reference_skimmer(paths, raw, admission)

    monkeypatch.setitem(stage.SKIMMERS, "recording", recording)
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=READ_AT)
    built = stage.Stage(StagePlan.build(rules, enricher=Enricher.create(), filters=filters,
                                        skim="recording"))  # fmt: skip
    [(paths, raw)] = asked
    assert set(raw) == set(columnar.RAW_PATHS) and set(raw).isdisjoint(paths)
    assert {"eventSource", "eventName", "requestParameters.tableName"} <= set(paths)
    assert built.normalizer is not None


def test_a_stage_has_its_skimmer_read_in_full_only_what_some_rule_can_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[Admission | None] = []

    def recording(
        paths: Sequence[str], raw: Collection[str] = (), admission: Admission | None = None
    ) -> Skimmer:
        asked.append(admission)
        return reference_skimmer(paths, raw, admission)

    monkeypatch.setitem(stage.SKIMMERS, "recording", recording)
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=READ_AT)
    plan = StagePlan.build(rules, enricher=Enricher.create(), filters=filters, skim="recording")
    stage.Stage(plan)
    [admission] = asked
    assert admission is not None and all(admission.reads(p) for p in COUNTED_PATHS)
    pairs = [
        ("dynamodb.amazonaws.com", "PutItem"), ("dynamodb.amazonaws.com", None),
        ("s3.amazonaws.com", "GetObject"), (None, "PutItem"), (None, None),
        ("lambda.amazonaws.com", "CreateEventSourceMapping"), ("lambda.amazonaws.com", "Invoke"),
    ]  # fmt: skip
    assert [admission.admits(*p) for p in pairs] == [plan.selection.admits(*p) for p in pairs]
    assert any(admission.admits(*p) for p in pairs) and not all(
        admission.admits(*p) for p in pairs
    )


def _odd_tables(tmp_path: Path) -> Path:
    """DynamoDB and KMS calls whose tables are named by more than `tableName`."""
    table = "arn:aws:dynamodb:us-east-1:111122223333:table/Music"
    items = {"Music": [{"putRequest": {}}], table: [{"deleteRequest": {}}]}
    context = {"aws:dynamodb:tableName": "Music"}
    records = [
        _record(1, "PutItem", resources=[{"ARN": table, "type": "AWS::DynamoDB::Table"}]),
        _record(2, "DeleteTable", responseElements={"tableDescription": {"tableName": "T2"}}),
        _record(3, "BatchWriteItem",
                requestParameters={"requestItems": items, "returnConsumedCapacity": "TOTAL"}),
        _record(4, "BatchWriteItem", requestParameters={"requestItems": items, "tableArn": table}),
        _record(5, "UpdateTable", requestParameters={"tableName": "T5", "tableArn": table}),
        _record(6, "Decrypt", eventSource="kms.amazonaws.com",
                requestParameters={"encryptionContext": context}, resources="odd"),
        _record(7, "ExecuteStatement", requestParameters={"statement": "DELETE FROM T7"}),
        _record(8, "GetItem", resources={"ARN": table}, responseElements="odd"),
    ]  # fmt: skip
    for n in range(9):  # enough deletions for the pack to alert
        records.append(_record(n, "DeleteTable", eventID=f"deleted-{n}"))
    _records_file(tmp_path / "odd.json.gz", records)
    return tmp_path


def test_tables_named_by_more_than_table_name_read_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usual, skimmed = both_ways(_odd_tables(tmp_path), 1, monkeypatch)
    assert usual["alerts"] and usual["events"] == 17
    assert skimmed == usual


def test_a_batch_of_many_distinct_sources_and_actions_normalizes_as_the_usual_way() -> None:
    # every record its own source and action: a table with room for every (source, action)
    # pair would hold 450 x 450 of them, and a hostile file of tiny records its square
    records = [
        _record(i % 10, f"Action{i}", eventSource=f"s{i}.amazonaws.com", eventID=f"id-{i}")
        for i in range(450)
    ]
    spans = [json.dumps(r).encode() for r in records]
    text = b'{"Records": [' + b", ".join(spans) + b"]}"
    columns = {
        path: pa.array([r[path] for r in records], pa.string())
        for path in ("eventSource", "eventName")
    }

    def wanted(source: str | None, action: str | None) -> frozenset[str]:
        extra = {"aws.dynamodb.table_name"} if action and int(action[6:]) % 3 else set()
        return frozenset({"event.id", "@timestamp", "event.action", *extra})

    enricher = Enricher.create()
    made = SkimNormalizer(wanted)(SkimRows(spans, columns), READ_AT, enricher)
    usual = PartialNormalizer(wanted)(decode_records_file(text), READ_AT, enricher)
    assert made.rejected == usual.rejected == []
    assert made.order is not None and usual.order is not None
    by_record = dict(zip(usual.order, usual.batch.to_pylist(), strict=True))
    assert sorted(made.order) == list(range(450))
    assert made.batch.to_pylist() == [by_record[i] for i in made.order]
