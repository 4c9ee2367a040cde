"""Evidence documents are what normalizing their records one at a time gives, byte for byte:
neither rebuilding a whole alert run's evidence in one batch nor building a batch's documents a
column at a time changes a value, drops or adds a field, or moves a key."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from tests.support.real_records import real_record_texts

from trailhound.cloudtrail.documents import INGESTED, RAW, rebuilt_documents
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import format_time, to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.payloads import parsed_value
from trailhound.cloudtrail.record import decode_record
from trailhound.cloudtrail.schema import BY_NAME, Kind
from trailhound.escaping import json_bytes
from trailhound.simulate import simulate

READ_AT = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


class _File(msgspec.Struct):
    Records: list[msgspec.Raw]


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.create()


@pytest.fixture(scope="module")
def real_records(shared_data: Path) -> list[bytes]:
    """Real records of many shapes: DynamoDB, Elastic's conformance pairs, Stratus Red Team."""
    return real_record_texts(shared_data)


@pytest.fixture(scope="module")
def simulated_records(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The simulator's DynamoDB calls and the KMS calls made for them: BatchWriteItem,
    TransactWriteItems, PartiQL and the rest, as the pack's evidence shows them."""
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=11, events=6_000)
    decoder = msgspec.json.Decoder(_File)
    found = []
    for path in sorted(out.rglob("*.json.gz")):
        for raw in decoder.decode(gzip.decompress(path.read_bytes())).Records:
            text = bytes(raw)
            if b'"dynamodb.amazonaws.com"' in text or b'"kms.amazonaws.com"' in text:
                found.append(text)
    assert len(found) > 300
    return found[:900]


def plain_document(row: dict[str, Any]) -> dict[str, Any]:
    """The definition, one row at a time: each non-empty column in schema order at its dotted
    place (objects made as first needed), flattened text parsed, times as Elastic prints them,
    then the resources zipped from their three columns."""
    document: dict[str, Any] = {}
    resources = {"arn": "aws.cloudtrail.resources.arn", "type": "aws.cloudtrail.resources.type",
                 "account_id": "aws.cloudtrail.resources.account_id"}  # fmt: skip
    for name, value in row.items():
        if name in resources.values() or value is None or value == []:
            continue
        kind = BY_NAME[name].kind
        if kind is Kind.FLATTENED:
            value = parsed_value(value.encode())
        elif kind is Kind.DATE:
            value = format_time(value)
        put(document, name.split("."), value)
    lists = {key: row[name] or [] for key, name in resources.items()}
    zipped = [
        {k: values[i] for k, values in lists.items() if i < len(values) and values[i] is not None}
        for i in range(max(len(v) for v in lists.values()))
    ]
    if any(zipped):
        put(document, ["aws", "cloudtrail", "resources"], [entry for entry in zipped if entry])
    return document


def put(document: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        document = document.setdefault(part, {})
    document[path[-1]] = value


def one_at_a_time(raws: list[bytes], ingested: list[datetime], enricher: Enricher) -> list[bytes]:
    """Each record normalized alone and made a document by the definition."""
    made = []
    for raw, when in zip(raws, ingested, strict=True):
        result = normalize([decode_record(raw)], ingested=when, enricher=enricher)
        assert result.rejected == []
        made += [json_bytes(plain_document(row)) for row in result.batch.to_pylist()]
    return made


def times(count: int) -> list[datetime]:
    """Read times as evidence rows carry them: most alike, some read later (another run)."""
    return [READ_AT + timedelta(seconds=i // 7, microseconds=i % 3) for i in range(count)]


def evidence_rows(raws: list[bytes], ingested: list[datetime]) -> pa.RecordBatch:
    return pa.record_batch(
        {
            INGESTED: pa.array(ingested, BY_NAME[INGESTED].arrow_type),
            RAW: pa.array(raws, pa.binary()),
        }
    )


@pytest.mark.parametrize("records", ["real_records", "simulated_records"])
def test_rebuilt_evidence_is_each_record_normalized_alone(
    records: str, enricher: Enricher, request: pytest.FixtureRequest
) -> None:
    raws: list[bytes] = request.getfixturevalue(records)
    ingested = times(len(raws))
    rebuilt = rebuilt_documents(enricher)(evidence_rows(raws, ingested))
    made = [json_bytes(doc) for doc in rebuilt]
    expected = one_at_a_time(raws, ingested, enricher)
    assert len(made) == len(expected) == len(raws)
    different = [i for i, (a, b) in enumerate(zip(made, expected, strict=True)) if a != b]
    assert not different, f"{len(different)} differ, first {made[different[0]][:300]!r}"


@pytest.mark.parametrize("records", ["real_records", "simulated_records"])
def test_a_batch_documents_as_its_rows_would_alone(
    records: str, enricher: Enricher, request: pytest.FixtureRequest
) -> None:
    """A column empty in one row but not in the batch, or the other way round, changes
    nothing: each document is its row's by the definition, and the one its row makes alone."""
    raws: list[bytes] = request.getfixturevalue(records)
    batch = normalize([decode_record(r) for r in raws], ingested=READ_AT, enricher=enricher).batch
    whole = [json_bytes(doc) for doc in to_documents(batch)]
    rows = [batch.slice(i, 1) for i in range(batch.num_rows)]
    alone = [json_bytes(doc) for row in rows for doc in to_documents(row)]
    assert len(whole) == batch.num_rows == len(raws)
    assert whole == alone == [json_bytes(plain_document(row)) for row in batch.to_pylist()]


def test_rows_without_their_record_are_shown_from_the_columns_they_have(
    real_records: list[bytes], enricher: Enricher
) -> None:
    raws = real_records[:4]
    rows = evidence_rows(raws, times(4))
    rows = rows.set_column(1, RAW, pa.array([raws[0], None, raws[2], None], pa.binary()))
    made = list(rebuilt_documents(enricher)(rows))
    expected = one_at_a_time(raws, times(4), enricher)
    assert [json_bytes(made[0]), json_bytes(made[2])] == [expected[0], expected[2]]
    assert made[1] == {"event": {"ingested": "2026-03-01T12:00:00.123001Z"}}
    assert made[3] == {"event": {"ingested": "2026-03-01T12:00:00.123Z"}}


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 120000, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 1000, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # printed by Python: Arrow pads years
        datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    ],
)
def test_times_are_shown_as_elastic_prints_them(moment: datetime) -> None:
    """Whichever way a column of times is printed, each reads as `format_time` gives it, and
    a time missing from a row leaves the field out of its document."""
    column = pa.array([moment, None, READ_AT], BY_NAME["@timestamp"].arrow_type)
    documents = list(to_documents(pa.record_batch({"@timestamp": column})))
    assert documents == [
        {"@timestamp": format_time(moment)},
        {},
        {"@timestamp": "2026-03-01T12:00:00.123Z"},
    ]


def test_members_read_once_make_the_documents_reading_their_texts_makes(
    simulated_records: list[bytes], enricher: Enricher
) -> None:
    """The long requests normalizing has read (a batch write's items) are put in the documents
    as read, not read again from their text: the documents are the same to the byte, and the
    additional data, whose user name may have moved, is always read from its text."""
    records = [decode_record(r) for r in simulated_records]
    result = normalize(records, ingested=READ_AT, enricher=enricher, parsed=True)
    given = result.read["aws.cloudtrail.flattened.request_parameters"]
    assert sum(value is not None for value in given) > 10
    assert "aws.cloudtrail.flattened.additional_eventdata" not in result.read
    with_read = [json_bytes(doc) for doc in to_documents(result.batch, result.read)]
    assert with_read == [json_bytes(doc) for doc in to_documents(result.batch)]
    assert normalize(records, ingested=READ_AT, enricher=enricher).read == {}


def test_resources_with_gaps_are_zipped_as_the_definition_zips_them() -> None:
    """A resource missing its type or account, or columns of unequal lengths, keep only the
    parts they have; a row whose resources are all empty shows none."""
    arns = [["a1", "a2"], ["a1"], ["a1", None], None, [None], ["a1", "a2"]]
    types = [["t1", "t2"], ["t1", "t2"], ["t1", None], ["t1"], [None], ["t1", "t2"]]
    accounts = [["c1", "c2"], ["c1"], [None, None], None, [None], ["c1", None]]
    text_lists = pa.list_(pa.string())
    batch = pa.record_batch(
        {
            "aws.cloudtrail.resources.arn": pa.array(arns, text_lists),
            "aws.cloudtrail.resources.type": pa.array(types, text_lists),
            "aws.cloudtrail.resources.account_id": pa.array(accounts, text_lists),
        }
    )
    made = [json_bytes(doc) for doc in to_documents(batch)]
    assert made == [json_bytes(plain_document(row)) for row in batch.to_pylist()]
    assert made[4] == b"{}"
    shown = [{"arn": "a1", "type": "t1", "account_id": "c1"}, {"type": "t2"}]
    assert next(to_documents(batch.slice(1, 1))) == {"aws": {"cloudtrail": {"resources": shown}}}
