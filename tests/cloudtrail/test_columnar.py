"""Normalizing from member columns gives, for every row it takes, exactly what `normalize` gives
from the decoded record, and hands every other row back: on real records, on the simulator's,
and on odd-but-valid records made up by hypothesis."""

from __future__ import annotations

import gzip
import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.real_records import real_record_texts
from tests.support.skimmed import path_columns

from trailhound.cloudtrail import skim
from trailhound.cloudtrail.columnar import (
    PATHS,
    RAW_PATHS,
    normalized_columns,
    paths_for,
    supported,
    takes,
)
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import decode_record
from trailhound.cloudtrail.schema import BY_NAME
from trailhound.cloudtrail.skim import Skimmed
from trailhound.cloudtrail.skim_reference import reference_skimmer
from trailhound.engine.prefilter import column_plan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate

INGESTED = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
SUPPORTED = frozenset(name for name in BY_NAME if supported([name]))


class _File(msgspec.Struct):
    Records: list[msgspec.Raw]


@pytest.fixture(scope="module")
def enricher(shared_data: Path) -> Enricher:
    return Enricher.create(sorted((shared_data / "geo").glob("*.mmdb")))


@pytest.fixture(scope="module")
def pack_fields() -> list[frozenset[str]]:
    """The field sets the shipped pack reads, one per DynamoDB or KMS action it selects."""
    plan = column_plan(load_rules([shipped_pack_dir()]).rules, [])
    actions = ["PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem",
               "TransactWriteItems", "ExecuteStatement", "DescribeTable"]  # fmt: skip
    sets = {plan.columns_for("dynamodb.amazonaws.com", action) for action in actions}
    sets |= {plan.columns_for("kms.amazonaws.com", a) for a in ("Decrypt", "GenerateDataKey")}
    return sorted(sets, key=sorted)


@pytest.fixture(scope="module")
def real_records(shared_data: Path) -> list[bytes]:
    return real_record_texts(shared_data)


@pytest.fixture(scope="module")
def simulated_records(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=5, events=8_000)
    decoder = msgspec.json.Decoder(_File)
    return [
        bytes(raw)
        for path in sorted(out.rglob("*.json.gz"))
        for raw in decoder.decode(gzip.decompress(path.read_bytes())).Records
    ]


def assert_same_as_normalize(
    texts: Sequence[bytes], fields: Collection[str], enricher: Enricher, *, keyed: bool = True
) -> tuple[list[int], list[int]]:
    """The contract: `done` and `left` split the rows; the done rows are what normalize makes
    of the whole batch for them, without rejecting or noting any. Without `keyed`, the
    columns lack the keys columns (what a request and a response hold), which are optional."""
    texts = [t for t in texts if _decodable(t) and _skimmed(t) is not None]
    columns = skimmed_columns(texts, fields)
    if not keyed:
        columns = {p: c for p, c in columns.items() if skim.keyed_path(p) is None}
    result = normalized_columns(columns, fields, INGESTED, enricher)
    assert sorted(result.done + result.left) == list(range(len(texts)))
    assert result.done == sorted(result.done)
    expected = normalize([decode_record(t) for t in texts], ingested=INGESTED,
                         enricher=enricher, fields=fields)  # fmt: skip
    refused = {i for i, _ in expected.rejected} | {i for i, _ in expected.notes}
    assert refused.isdisjoint(result.done)
    kept = [i for i in range(len(texts)) if i not in {j for j, _ in expected.rejected}]
    position = {i: p for p, i in enumerate(kept)}
    want = expected.batch.take(pa.array([position[i] for i in result.done], pa.int64()))
    assert result.batch.schema == want.schema
    for name in want.schema.names:
        got, wanted = result.batch.column(name), want.column(name)
        assert got.type == wanted.type, name
        assert got.to_pylist() == wanted.to_pylist(), (name, _first_difference(got, wanted))
    return result.done, result.left


def skimmed_columns(texts: Sequence[bytes], fields: Collection[str]) -> dict[str, pa.Array]:
    """The columns `normalized_columns` reads for these fields, as the reference skimmer
    gives them (its raw paths' JSON text included), for records it takes."""
    skimmed = [_skimmed(t) for t in texts]
    empty = pa.array([], pa.string())
    return {
        path: pa.concat_arrays([empty, *(s.columns[path] for s in skimmed if s is not None)])
        for path in paths_for(fields)
    }


@cache
def _skimmed(text: bytes) -> Skimmed | None:
    """The record alone in a records file, as the reference skimmer reads it."""
    return _skim_every_path()(b'{"Records": [' + text + b"]}")


@cache
def _skim_every_path() -> Any:
    return reference_skimmer(PATHS, RAW_PATHS)


def _first_difference(got: pa.Array, wanted: pa.Array) -> Any:
    for i, (a, b) in enumerate(zip(got.to_pylist(), wanted.to_pylist(), strict=True)):
        if a != b:
            return i, a, b
    return None


def _decodable(text: bytes) -> bool:
    try:
        decode_record(text)
    except msgspec.MsgspecError:
        return False
    return True


def test_real_records_normalize_alike(
    real_records: list[bytes], pack_fields: list[frozenset[str]], enricher: Enricher
) -> None:
    for fields in [*pack_fields, SUPPORTED]:
        if supported(fields):
            assert_same_as_normalize(real_records, fields, enricher)


def test_each_field_alone_is_made_from_the_paths_it_names(
    real_records: list[bytes], enricher: Enricher
) -> None:
    # the columns given are `paths_for` the one field: a path its maker reads but does not
    # name would be missing here
    for name in sorted(SUPPORTED):
        assert_same_as_normalize(real_records, {name}, enricher)
    assert not {p for p in paths_for({"user.id"}) if "sessionContext" in p}


def test_simulated_records_normalize_alike_and_most_are_done(
    simulated_records: list[bytes], pack_fields: list[frozenset[str]], enricher: Enricher
) -> None:
    calls = [t for t in simulated_records if b'"dynamodb.amazonaws.com"' in t]
    single = [t for t in calls if any(f'"{a}"'.encode() in t for a in ("PutItem", "GetItem"))]
    assert len(single) > 100
    for fields in [*pack_fields, SUPPORTED]:
        if supported(fields):
            done, _ = assert_same_as_normalize(simulated_records, fields, enricher)
            assert done
    table_fields = pack_fields[0] | {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    keyed = assert_same_as_normalize(calls, table_fields, enricher)
    assert assert_same_as_normalize(calls, table_fields, enricher, keyed=False) == keyed
    # the single-item calls are the rows this path is for: all of them are done
    done, left = assert_same_as_normalize(single, pack_fields[0] | {"aws.dynamodb.table_name"},
                                          enricher)  # fmt: skip
    assert not left and len(done) == len(single)


# the calls `takes` is for; others it takes may still have every row left (a DeleteTable's
# response describes its table)
_DATA_CALLS = {"PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan",
               "BatchWriteItem", "BatchGetItem", "TransactWriteItems", "ExecuteStatement",
               "Decrypt", "GenerateDataKey"}  # fmt: skip


def test_actions_it_does_not_take_would_all_be_left(
    simulated_records: list[bytes], pack_fields: list[frozenset[str]], enricher: Enricher
) -> None:
    """`takes` tells a caller which actions to send the old way: only ones whose every row
    `normalized_columns` would leave; and it takes the single-item DynamoDB calls."""
    groups: dict[tuple[str, str], list[bytes]] = {}
    for text in simulated_records:
        value = json.loads(text)
        groups.setdefault((value.get("eventSource"), value["eventName"]), []).append(text)
    refused = 0
    for fields in pack_fields:
        for (source, action), texts in groups.items():
            if not supported(fields):
                continue
            done, left = assert_same_as_normalize(texts, fields, enricher)
            if not takes(fields, source, action):
                refused += 1
                assert len(left) == len(texts), (source, action)
            elif action in _DATA_CALLS:
                assert done, (source, action)
    assert refused
    assert all(takes(fields, "dynamodb.amazonaws.com", "PutItem")
               for fields in pack_fields if supported(fields))  # fmt: skip
    wanted = pack_fields[0] | {"aws.dynamodb.operations"}
    assert takes(wanted, "dynamodb.amazonaws.com", "TransactWriteItems")
    assert not takes(wanted, "dynamodb.amazonaws.com", "ExecuteTransaction")


def test_every_pack_field_set_of_single_item_calls_is_supported(
    pack_fields: list[frozenset[str]],
) -> None:
    plan = column_plan(load_rules([shipped_pack_dir()]).rules, [])
    for action in ("PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan"):
        assert supported(plan.columns_for("dynamodb.amazonaws.com", action)), action


def test_rows_that_need_their_payloads_are_left(enricher: Enricher) -> None:
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventSource": "dynamodb.amazonaws.com",
            "recipientAccountId": "111122223333", "userIdentity": {"type": "IAMUser"}}  # fmt: skip
    records = [
        {**base, "eventName": "PutItem", "requestParameters": {"tableName": "Music"}},
        {**base, "eventName": "ExecuteTransaction",
         "requestParameters": {"transactStatements": [{"statement": "DELETE FROM Music"}]}},
        {**base, "eventName": "ExecuteStatement",
         "requestParameters": {"statement": "UPDATE Music SET a = 1", "tableName": "Other"}},
        {**base, "eventName": "PutItem", "eventTime": "2024-05-01T10:00:00.5Z"},
        {**base, "eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com",
         "responseElements": {"ConsoleLogin": "Failure"}},
        {**base, "eventName": "Decrypt", "eventSource": "kms.amazonaws.com"},
        {**base, "eventName": "UserAuthentication", "eventSource": "signin.amazonaws.com",
         "additionalEventData": {"UserName": "zed"}},
    ]  # fmt: skip
    texts = [json.dumps(r).encode() for r in records]
    fields = frozenset({"@timestamp", "event.outcome", "aws.dynamodb.operations",
                        "aws.dynamodb.table_name", "user.name"})  # fmt: skip
    done, left = assert_same_as_normalize(texts, fields, enricher)
    assert (done, left) == ([0, 5], [1, 2, 3, 4, 6])
    _, left = assert_same_as_normalize(texts[2:3], {"aws.dynamodb.table_name"}, enricher)
    assert left == [0]  # the statement and tableName: in an order no path tells


def test_kms_calls_tables_as_normalize_reads_them(enricher: Enricher) -> None:
    """A KMS call's tables come from its encryption context, and from its resources only when
    its request holds the context key's text at all (read from the request's own JSON: done
    here either way); a request that names a table twice, in an order paths do not tell, is
    left."""
    table = {"ARN": "arn:aws:dynamodb:us-east-1:111122223333:table/Held", "type": None}
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "Decrypt",
            "eventSource": "kms.amazonaws.com", "resources": [table]}  # fmt: skip
    context = {"aws:dynamodb:tableName": "Music"}
    records = [
        {**base, "requestParameters": {"encryptionContext": context}},
        {**base, "requestParameters": {"keyId": "aws:dynamodb:tableName"}},
        {**base, "requestParameters": {"keyId": "alias/aws/dynamodb"}},
        {**base, "requestParameters": {"encryptionContext": context, "tableName": "Other"}},
        {**base, "eventSource": "dynamodb.amazonaws.com", "eventName": "PutItem",
         "requestParameters": {"encryptionContext": context, "tableName": "Other"}},
    ]  # fmt: skip
    texts = [json.dumps(r).encode() for r in records]
    done, left = assert_same_as_normalize(texts, {"aws.dynamodb.table_name"}, enricher)
    assert (done, left) == ([0, 1, 2], [3, 4])


def test_batch_writes_as_normalize_reads_them(enricher: Enricher) -> None:
    """A BatchWriteItem's tables are its request's, then its resources'; its operations one per
    item; a request that also names tables otherwise sends the batch's writes the old way."""
    held = {"ARN": "arn:aws:dynamodb:us-east-1:111122223333:table/Held",
            "type": "AWS::DynamoDB::Table"}  # fmt: skip
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "BatchWriteItem",
            "eventSource": "dynamodb.amazonaws.com", "resources": [held]}  # fmt: skip
    by_arn = "arn:aws:dynamodb:us-east-1:111122223333:table/ByArn"
    items = {"Music": [{"putRequest": {}}, {"deleteRequest": {}}], by_arn: [{"PutRequest": {}}]}
    records = [
        {**base, "requestParameters": {"requestItems": items}},
        {**base, "requestParameters": {"requestItems": {}}, "resources": None},
        {**base, "requestParameters": None},
    ]
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    texts = [json.dumps(r).encode() for r in records]
    assert assert_same_as_normalize(texts, fields, enricher) == ([0, 1, 2], [])
    twice = {**base, "requestParameters": {"RequestItems": {"Cap": []}, "requestItems": items}}
    texts.append(json.dumps(twice).encode())
    assert assert_same_as_normalize(texts, fields, enricher) == ([], [0, 1, 2, 3])
    # another key that names nothing, or a table-naming one that holds null, is read alike
    for other in ({"returnConsumedCapacity": "TOTAL"}, {"tableArn": None}):
        more = {**base, "requestParameters": {"requestItems": items, **other}}
        assert assert_same_as_normalize([*texts[:3], json.dumps(more).encode()], fields,
                                        enricher) == ([0, 1, 2, 3], [])  # fmt: skip
    odd = {**base, "requestParameters": {"requestItems": {"Music": {"putRequest": {}}}}}
    assert assert_same_as_normalize([texts[0], json.dumps(odd).encode()], fields,
                                    enricher) == ([], [0, 1])  # fmt: skip


_PUT, _DELETE = {"putRequest": {"item": {"k": "1"}}}, {"deleteRequest": {"key": {"k": "2"}}}
# (requestItems, whether the columnar step reads the batch's BatchWriteItem rows itself)
_BATCH_WRITE_SHAPES: list[tuple[Any, bool]] = [
    ({"Music": [_PUT] * 25}, True),
    ({"Music": [_DELETE] * 25}, True),
    ({"Music": [_PUT, _DELETE, _PUT, _DELETE, _DELETE]}, True),  # mixed, order kept
    ({"Music": [{"PutRequest": {}}, {"DeleteRequest": {}}, _PUT]}, True),
    ({"Music": [{"putRequest": None}, {"DeleteRequest": None}]}, True),  # null still counts
    ({"Music": [{"putRequest": {}, "PutRequest": {}}]}, True),  # one kind twice: two puts
    ({"Music": [{"putRequest": {}, "note": [1, {"deleteRequest": {}}]}]}, True),
    ({"Music": [{"other": 1}, {}, {"putrequest": {}}]}, True),  # unknown kinds name nothing
    ({"Music": [], "Other": []}, True),
    ({"B": [_PUT], "A": [_DELETE], "arn:aws:dynamodb:us-east-1:1:table/B": [_PUT]}, True),
    ({"arn:aws:s3:::bucket": [_PUT], "": [_DELETE], "-": [_PUT]}, True),
    ({'Mü"sic': [{"putRequest": {"item": {"putRequest": {"deleteRequest": "x"}}}}]}, True),
    ({"Music": [{"putRequest": {}, "deleteRequest": {}}]}, False),  # which came first?
    ({"Music": [{"DeleteRequest": {}, "PutRequest": None}]}, False),
    ({"Music": [_PUT, "x"]}, False),  # an item that is not an object
    ({"Music": [{"putRequest": "x"}]}, False),  # a kind holding neither object nor null
    ({"Music": [{"putRequest": []}]}, False),
    ({"Music": {"putRequest": {}}}, False),  # not a list of items
    ([{"tableName": "Music", "putRequest": {}}], False),  # a list, as transactions write
]


@pytest.mark.parametrize(("items", "read_here"), _BATCH_WRITE_SHAPES)
def test_batch_write_shapes_as_normalize_reads_them(
    items: Any, read_here: bool, enricher: Enricher
) -> None:
    """Each shape of a BatchWriteItem request gives normalize's tables and operations, or
    sends the batch's writes the old way; a usual request beside it shares its fate."""
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "BatchWriteItem",
            "eventSource": "dynamodb.amazonaws.com"}  # fmt: skip
    records = [
        {**base, "requestParameters": {"requestItems": items}},
        {**base, "requestParameters": {"requestItems": {"Usual": [_PUT, _PUT]}}},
        {**base, "requestParameters": None},
        {**base, "requestParameters": {"requestItems": None}},
        {**base, "eventName": "PutItem", "requestParameters": {"tableName": "Single"}},
    ]
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    texts = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    done, left = assert_same_as_normalize(texts, fields, enricher)
    assert (done, left) == (([0, 1, 2, 3, 4], []) if read_here else ([4], [0, 1, 2, 3]))


def test_batch_write_keys_written_with_escapes_read_alike(enricher: Enricher) -> None:
    """A kind's or a table's name spelt with escapes is the name it spells."""
    record = (
        b'{"eventTime": "2024-05-01T10:00:00Z", "eventName": "BatchWriteItem",'
        b' "eventSource": "dynamodb.amazonaws.com", "requestParameters": {"requestItems":'
        b' {"M\\u00fcsic": [{"put\\u0052equest": {}}, {"\\u0064eleteRequest": {}}],'
        b' "Mu\\"sic": [{"putRequest": {}}]}}}'
    )
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    assert assert_same_as_normalize([record], fields, enricher) == ([0], [])


def test_a_context_key_written_with_escapes_reads_as_normalize_does(enricher: Enricher) -> None:
    """normalize reads a KMS call's tables only if its request holds the key's text as such;
    the skimmer tells which keys a request holds after unescaping, so none is left for an
    escape alone."""
    record = (
        b'{"eventTime": "2024-05-01T10:00:00Z", "eventName": "Decrypt",'
        b' "eventSource": "kms.amazonaws.com", "requestParameters": {"encryptionContext":'
        b' {"aws:dynamodb:table\\u004eame": "Music"}}}'
    )
    plain = record.replace(b"\\u004e", b"N")
    # the key's text elsewhere in the request: normalize reads the context's table after all
    elsewhere = record.replace(b"}}}", b'}, "keyId": "aws:dynamodb:tableName"}}')
    fields = {"aws.dynamodb.table_name"}
    done, left = assert_same_as_normalize([record, plain, elsewhere], fields, enricher)
    assert (done, left) == ([0, 1, 2], [])


_ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/Other"


@pytest.mark.parametrize(
    ("action", "request_", "response", "is_left"),
    [
        ("PutItem", {"tableName": "T", "item": {"k": {"S": "\u00e9\n"}}}, None, False),
        ("PutItem", {"tableName": "T", "item": {"tableArn": {"S": _ARN}}}, None, True),
        ("PutItem", {"tableName": "T", "item": {"a": [{"requestItems": None}]}}, None, True),
        ("PutItem", {"tableName": "T", "item": {"k": {"S": '"tableArn":'}}}, None, False),
        ("GetItem", {"TableName": "T"}, None, True),
        ("GetItem", {"tableName": "T", "tableArn": _ARN}, None, True),
        ("UpdateItem", {"tableName": "T"}, {"attributes": {"table": {"S": "x"}}}, True),
        ("DeleteItem", {"tableName": "T"}, {"attributes": {"k": {"S": "x"}}}, False),
        ("ExecuteStatement", {"statement": 'SELECT * FROM "T"'}, None, False),
        ("ExecuteStatement", {"statement": "SELECT * FROM T", "Statement": "x"}, None, True),
        ("BatchWriteItem", {"requestItems": {"T": [{"putRequest": {}}]}}, None, False),
        ("BatchWriteItem", {"requestItems": {"T": [{"putRequest": {}}]}},
         {"unprocessedItems": {"tableDescription": {"tableName": "U"}}}, True),
    ],
)  # fmt: skip
def test_tables_named_elsewhere_are_left_with_or_without_keys_columns(
    action: str, request_: Any, response: Any, is_left: bool, enricher: Enricher
) -> None:
    """A row whose request or response may name a table where the columns do not read is
    left: told by the keys columns (a key held at any depth, escapes read, never a value that
    looks like a key), or without them by a pattern over the JSON texts (which also leaves a
    row for any escape)."""
    record = {**_DDB, "eventName": action, "requestParameters": request_,
              "responseElements": response}  # fmt: skip
    texts = [json.dumps(record).encode()]
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    _, left = assert_same_as_normalize(texts, fields, enricher)
    assert left == ([0] if is_left else [])
    _, left_before = assert_same_as_normalize(texts, fields, enricher, keyed=False)
    assert set(left_before) >= set(left)


def test_raw_paths_are_read_only_for_the_fields_that_need_them(enricher: Enricher) -> None:
    assert set(RAW_PATHS).isdisjoint(PATHS)
    assert set(paths_for({"aws.dynamodb.table_name"})) >= set(RAW_PATHS)
    assert paths_for({"aws.cloudtrail.resources.arn"})[-1] == "resources"
    plain = {"event.action", "user.name", "source.address"}
    assert set(RAW_PATHS).isdisjoint(paths_for(plain))
    record = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "GetItem",
              "eventSource": "dynamodb.amazonaws.com",
              "requestParameters": {"tableName": "T"}}  # fmt: skip
    columns = path_columns([json.dumps(record).encode()], PATHS)
    assert columns is not None
    without = normalized_columns(columns, plain, INGESTED, enricher)
    assert without.done == [0]
    assert without.batch.column("event.action").to_pylist() == ["GetItem"]
    with pytest.raises(ValueError, match="requestParameters, responseElements, resources"):
        normalized_columns(columns, {"aws.dynamodb.table_name"}, INGESTED, enricher)


_DDB = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "GetItem",
        "eventSource": "dynamodb.amazonaws.com"}  # fmt: skip
_MUSIC = "arn:aws:dynamodb:us-east-1:111122223333:table/Music"


@pytest.mark.parametrize(
    ("members", "done"),
    [
        # resources of odd shapes: Elastic keeps what it can of them, and so do both ways
        ({"resources": {"ARN": _MUSIC}}, True),
        ({"resources": "arn"}, True),
        ({"resources": [1, None, "x", [], {"ARN": 5, "type": True}]}, True),
        ({"resources": [{"ARN": _MUSIC}, {"ARN": _MUSIC, "accountId": "1"}, {"ARN": _MUSIC}]},
         True),
        ({"resources": []}, True),
        # a request naming tables by several keys, in an order no path tells
        ({"requestParameters": {"tableName": "A", "sourceTableArn": _MUSIC}}, False),
        ({"requestParameters": {"TableName": "A", "tableName": "B"}}, False),
        ({"requestParameters": {"tableName": "A", "Statement": "SELECT * FROM B"}}, False),
        # a table-naming key holding null names nothing, but is sent the old way all the same
        ({"requestParameters": {"tableName": "A", "tableArn": None}}, False),
        # the key's name as a value, or a key that names nothing: done here
        ({"requestParameters": {"tableName": "A", "note": "tableArn", "tableArnX": 1}}, True),
        # an escape may spell a key: sent the old way
        ({"requestParameters": {"tableName": "A", "t\u0061bleArn": _MUSIC}}, False),
        # a response describing its table
        ({"requestParameters": {"tableName": "A"},
          "responseElements": {"tableDescription": {"tableName": "B"}}}, False),
        ({"requestParameters": {"tableName": "A"}, "responseElements": {"table": None}}, False),
        ({"requestParameters": {"tableName": "A"}, "responseElements": {"items": 3}}, True),
        ({"requestParameters": {"tableName": "A"}, "responseElements": "odd"}, True),
        ({"requestParameters": {"tableName": "A"}, "responseElements": ["table"]}, True),
    ],
)  # fmt: skip
def test_tables_from_odd_requests_responses_and_resources(
    members: dict[str, Any], done: bool, enricher: Enricher
) -> None:
    text = json.dumps({**_DDB, **members}).encode().replace(b"\\\\u", b"\\u")
    fields = {"aws.dynamodb.table_name", "aws.cloudtrail.resources.arn",
              "aws.cloudtrail.resources.account_id", "aws.cloudtrail.resources.type"}  # fmt: skip
    found, left = assert_same_as_normalize([text], fields, enricher)
    assert (found, left) == (([0], []) if done else ([], [0]))


def test_a_statement_with_other_table_keys_is_left(enricher: Enricher) -> None:
    statement = {**_DDB, "eventName": "ExecuteStatement"}
    records = [
        {**statement, "requestParameters": {"statement": 'SELECT * FROM "Music"'}},
        {**statement, "requestParameters": {"statement": "SELECT * FROM A", "tableName": "B"}},
        {**statement, "requestParameters": {"statement": "SELECT * FROM A",
                                            "encryptionContext": {"aws:dynamodb:tableName": "B"}}},
        {**statement, "requestParameters": {"statement": "SELECT * FROM A", "Statement": "x"}},
        {**statement, "requestParameters": {"statement": "SELECT * FROM A"},
         "responseElements": {"tableDescription": {"tableName": "B"}}},
        {**statement, "requestParameters": {"statement": "SELECT * FROM A"},
         "resources": [{"ARN": _MUSIC}]},
    ]  # fmt: skip
    texts = [json.dumps(r).encode() for r in records]
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    assert assert_same_as_normalize(texts, fields, enricher) == ([0, 5], [1, 2, 3, 4])


def test_unsupported_fields_leave_every_row(enricher: Enricher) -> None:
    record = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "GetItem"}
    columns = path_columns([json.dumps(record).encode()], PATHS)
    assert columns is not None
    assert not supported({"related.user"})
    result = normalized_columns(columns, {"related.user"}, INGESTED, enricher)
    assert (result.done, result.left, result.batch.num_rows) == ([], [0], 0)


def test_missing_paths_are_a_clear_error(enricher: Enricher) -> None:
    with pytest.raises(ValueError, match="eventID"):
        normalized_columns({"eventName": pa.array(["x"])}, {"event.id"}, INGESTED, enricher)


# -- odd but valid records ----------------------------------------------------------------------

_TEXT = st.one_of(
    st.sampled_from(["", "-", "none", "None", "alice", "bob@example.com", "@x", "ünï", "a\u2028b"]),
    st.text(max_size=8),
)
_MAYBE = st.one_of(st.none(), _TEXT)
_ARN = st.sampled_from([
    "arn:aws:sts::111122223333:assumed-role/admin/alice@example.com",
    "arn:aws:sts::111122223333:assumed-role/admin/",
    "arn:aws-us-gov:sts::111122223333:federated-user/bob",
    "arn:aws:iam::111122223333:user/carol",
    "-",
])  # fmt: skip
_TIMES = st.one_of(
    st.sampled_from([
        "2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
        "0000-01-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z",
        "2024-01-01T00:00:00.123Z", "2024-01-01T00:00:00+00:00", "2024-01-01 00:00:00",
        "2024-01-01", "yesterday", "",
    ]),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ").rjust(20, "0")
    ),
)  # fmt: skip


def _object(members: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=members)


_ISSUER = _object({"type": _MAYBE, "principalId": _MAYBE, "arn": st.one_of(_ARN, _MAYBE),
                   "accountId": _MAYBE, "userName": _MAYBE})  # fmt: skip
_IDENTITY = _object({
    "type": st.one_of(st.sampled_from(
        ["AssumedRole", "FederatedUser", "IAMUser", "AWSService", "IdentityCenterUser", "Root"]
    ), _MAYBE),
    "principalId": _MAYBE, "arn": st.one_of(_ARN, _MAYBE), "accountId": _MAYBE,
    "accessKeyId": _MAYBE, "userName": _MAYBE, "invokedBy": _MAYBE,
    "sessionContext": st.one_of(st.none(), _object({
        "sessionIssuer": st.one_of(st.none(), _ISSUER),
        "attributes": st.one_of(st.none(), _object({
            "mfaAuthenticated": _MAYBE,
            "creationDate": st.one_of(_MAYBE, st.sampled_from(
                ["2024-03-12T05:00:00Z", "2024-03-12", "20240312T050000Z", "2024-13-01"])),
        })),
    })),
    "onBehalfOf": st.one_of(st.none(), _object({"userId": _MAYBE})),
})  # fmt: skip
_MUSIC_ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/Music"
_TABLE_ARN = st.sampled_from([
    "arn:aws:dynamodb:us-east-1:111122223333:table/Music",
    "arn:aws:dynamodb:us-east-1:111122223333:table/Other/stream/2024",
    "arn:aws:kms:us-east-1:111122223333:key/abc",
])  # fmt: skip
_RESOURCE = _object({"ARN": _TABLE_ARN, "accountId": _MAYBE, "type": st.sampled_from(
    ["AWS::DynamoDB::Table", "AWS::DynamoDB::Stream", "AWS::KMS::Key"])})  # fmt: skip
_REQUEST = st.one_of(
    st.none(),
    _object({
        "tableName": st.one_of(st.none(), st.sampled_from(["Music", "", "-", "Ötzi"])),
        "key": st.just({"pk": "tableName"}),
        "tableArn": _TABLE_ARN,
        "TableName": st.just("Capital"),
        "requestItems": st.dictionaries(
            st.sampled_from(["Music", "arn:aws:dynamodb:us-east-1:111122223333:table/ByArn",
                             "arn:aws:s3:::bucket", "", "Other"]),
            st.lists(st.sampled_from([{"putRequest": {}}, {"DeleteRequest": {"key": {}}},
                                      {"other": 1}, {}, "x", {"putRequest": None},
                                      {"putRequest": {}, "PutRequest": {}},
                                      {"deleteRequest": {}, "putRequest": {}},
                                      {"PutRequest": "x"}]), max_size=3),
            max_size=3),
        "RequestItems": st.just({"Capital": [{"PutRequest": {}}]}),
        "statement": st.sampled_from([
            'SELECT * FROM "Music" WHERE pk = 1', "select a from Orders", "",
            "  -- why\nDELETE FROM \"Odd\"\"Name\" WHERE k = '***(Redacted)'",
            "INSERT INTO Music VALUE {'a': ?}", "not partiql"]),
        "encryptionContext": st.one_of(st.none(), _object(
            {"aws:dynamodb:tableName": st.sampled_from(["Music", "", "Other"]),
             "aws:dynamodb:subscriberId": st.just("111122223333")})),
        "keyId": st.sampled_from(["alias/aws/dynamodb", "aws:dynamodb:tableName"]),
        "sourceTableArn": st.one_of(st.none(), _TABLE_ARN),
        "Statement": st.just("SELECT * FROM Capital"),
        "tableCreationParameters": st.just({"tableName": "Nested"}),
        "note": st.sampled_from(["tableArn", "requestItems", "\\u0074ableArn"]),
    }),
)  # fmt: skip
_ODD_RESOURCES = st.sampled_from([
    "arn", 3, {"ARN": "arn:aws:dynamodb:us-east-1:111122223333:table/Music"}, [None, 1, "x", []],
    [{"ARN": 5, "type": True, "accountId": {}}], [],
])  # fmt: skip
_RESPONSE = st.one_of(
    st.none(),
    st.sampled_from(["odd", [1], {"table": None}, {"table": {"tableName": "Table"}}]),
    _object({
        "tableDescription": st.just({"tableName": "Described"}),
        "ConsoleLogin": st.sampled_from(["Success", "Failure"]),
        "keyId": st.just("arn:aws:kms:us-east-1:111122223333:key/abc"),
        "exportDescription": st.one_of(st.none(), st.just({"tableArn": _MUSIC_ARN})),
    }),
)  # fmt: skip
_RECORD = _object({
    "eventVersion": _MAYBE, "eventID": _MAYBE, "awsRegion": _MAYBE,
    "sourceIPAddress": st.one_of(_MAYBE, st.sampled_from(
        ["81.2.69.144", "89.160.20.156", "216.160.83.56", "dynamodb.amazonaws.com", "::1"])),
    "userAgent": st.one_of(_MAYBE, st.sampled_from(
        ["aws-cli/2.15.30 Python/3.11.8 Darwin/23.5.0", "Mozilla/5.0 (Windows NT 10.0)"])),
    "errorCode": _MAYBE, "errorMessage": _MAYBE, "recipientAccountId": _MAYBE,
    "userIdentity": st.one_of(st.none(), _IDENTITY),
    "requestParameters": _REQUEST,
    "responseElements": _RESPONSE,
    "resources": st.one_of(st.none(), st.lists(_RESOURCE, max_size=3), _ODD_RESOURCES),
    "additionalEventData": st.one_of(st.none(), _object({"UserName": _MAYBE})),
})  # fmt: skip
_EVENT = st.tuples(
    _RECORD,
    _TIMES,
    st.sampled_from(["PutItem", "GetItem", "Query", "BatchWriteItem", "ExecuteStatement",
                     "ConsoleLogin", "UserAuthentication", "Decrypt", "-", ""]),
    st.sampled_from(["dynamodb.amazonaws.com", "streams.dynamodb.amazonaws.com",
                     "kms.amazonaws.com", "signin.amazonaws.com", "lambda.amazonaws.com", "-"]),
).map(lambda t: json.dumps({**t[0], "eventTime": t[1], "eventName": t[2], "eventSource": t[3]},
                           ensure_ascii=False).encode())  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_EVENT, min_size=1, max_size=12), all_fields=st.booleans())
def test_odd_records_normalize_alike(records: list[bytes], all_fields: bool) -> None:
    enricher = _enricher()
    fields = SUPPORTED if all_fields else frozenset(
        {"@timestamp", "user.name", "cloud.account.id", "event.outcome", "aws.dynamodb.table_name",
         "aws.dynamodb.operations", "source.geo.country_iso_code", "user.email", "user.id"}
    )  # fmt: skip
    assert_same_as_normalize(records, fields, enricher)


_ENRICHERS: dict[str, Enricher] = {}


def _enricher() -> Enricher:
    if "geo" not in _ENRICHERS:
        geo = Path(__file__).resolve().parents[3] / "shared" / "data" / "geo"
        _ENRICHERS["geo"] = Enricher.create(sorted(geo.glob("*.mmdb")))
    return _ENRICHERS["geo"]


_KEYS = [{"sku": "A"}, {"sku": "B"}]
# (requestItems, whether the columnar step reads the batch's BatchGetItem rows itself)
_BATCH_GET_SHAPES: list[tuple[Any, bool]] = [
    ({"products": {"keys": _KEYS, "consistentRead": False}}, True),
    ({"products": {"Keys": _KEYS}, "orders": {"keys": [{"id": "1"}]}}, True),
    ({"products": {"keys": None, "Keys": _KEYS}}, True),  # a null `keys` gives way to `Keys`
    ({"products": {"keys": _KEYS, "Keys": [{}]}}, True),  # `keys` first
    ({"products": {}}, True),  # no keys: one get
    ({"products": {"keys": []}}, True),  # an empty list: none
    ({"B": {"keys": _KEYS}, "arn:aws:dynamodb:us-east-1:1:table/B": {"keys": _KEYS}}, True),
    ({"arn:aws:s3:::bucket": {"keys": _KEYS}, "": {}}, True),
    ({}, True),
    ({"products": {"keys": "x"}}, False),  # keys that are not a list
    ({"products": {"keys": ["x"]}}, False),  # a key that is not an object
    ({"products": None}, False),  # a table's entry that is not an object
    ({"products": [{"sku": "A"}]}, False),
    ([{"tableName": "products"}], False),  # a list, as transactions write
]


@pytest.mark.parametrize(("items", "read_here"), _BATCH_GET_SHAPES)
def test_batch_get_shapes_as_normalize_reads_them(
    items: Any, read_here: bool, enricher: Enricher
) -> None:
    """Each shape of a BatchGetItem request gives normalize's tables and operations (a get per
    key asked), or sends the batch's gets the old way; a usual request beside it shares its
    fate, and a BatchWriteItem's rows keep theirs."""
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "BatchGetItem",
            "eventSource": "dynamodb.amazonaws.com"}  # fmt: skip
    records = [
        {**base, "requestParameters": {"requestItems": items}},
        {**base, "requestParameters": {"requestItems": {"Usual": {"keys": _KEYS}}}},
        {**base, "requestParameters": None},
        {**base, "requestParameters": {"requestItems": None}, "resources": [
            {"ARN": "arn:aws:dynamodb:us-east-1:1:table/Held", "type": "AWS::DynamoDB::Table"}]},
        {**base, "eventName": "BatchWriteItem",
         "requestParameters": {"requestItems": {"W": [_PUT]}}},
    ]  # fmt: skip
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    texts = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    done, left = assert_same_as_normalize(texts, fields, enricher)
    assert (done, left) == (([0, 1, 2, 3, 4], []) if read_here else ([4], [0, 1, 2, 3]))


def test_batch_gets_with_other_table_keys_go_the_old_way(enricher: Enricher) -> None:
    """A BatchGetItem request naming a table by another key, or a response describing one,
    is read the old way; a key holding null names nothing and is read here."""
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventName": "BatchGetItem",
            "eventSource": "dynamodb.amazonaws.com"}  # fmt: skip
    items = {"products": {"keys": _KEYS}}
    records = [
        {**base, "requestParameters": {"requestItems": items}},
        {**base, "requestParameters": {"requestItems": items, "tableArn": None}},
        {**base, "requestParameters": {"requestItems": items, "returnConsumedCapacity": "X"}},
    ]
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    texts = [json.dumps(r).encode() for r in records]
    assert assert_same_as_normalize(texts, fields, enricher) == ([0, 1, 2], [])
    named = {**base, "requestParameters": {"requestItems": items, "tableName": "Other"}}
    assert assert_same_as_normalize([*texts, json.dumps(named).encode()], fields,
                                    enricher) == ([], [0, 1, 2, 3])  # fmt: skip
    described = {**base, "requestParameters": {"requestItems": items},
                 "responseElements": {"table": {"tableName": "T"}}}  # fmt: skip
    done, left = assert_same_as_normalize([*texts, json.dumps(described).encode()], fields,
                                          enricher)  # fmt: skip
    assert (done, left) == ([0, 1, 2], [3])


_TRANSACT_REQUESTS: list[Any] = [
    {"requestItems": [{"operation": "Put", "tableName": "Orders", "key": {"id": "1"}},
                      {"operation": "Update", "tableName": "Items", "key": {"id": "2"}},
                      {"operation": "ConditionCheck", "tableName": "Orders"}]},
    {"transactItems": [{"put": {"tableName": "Music"}}, {"Delete": {"TableName": "Books"}}]},
    {"requestItems": [], "transactItems": [{"update": {"tableName": "Music"}}]},  # `or`
    {"requestItems": [{"operation": "Put", "key": {"tableName": "Hidden"}}]},  # nested name
    {"requestItems": [{"operation": "Odd", "tableName": "T"}, "x", None, {"Get": {}}]},
    {"RequestItems": [{"operation": "Delete", "tableName": "Capital"}], "tableName": "Top"},
    {"requestItems": [{"statement": 'INSERT INTO "Quoted" VALUE {}', "operation": "Put"}]},
    {"requestItems": {"Music": [{"putRequest": {}}]}},  # a batch's shape
    None,
]  # fmt: skip


@pytest.mark.parametrize("request_parameters", _TRANSACT_REQUESTS)
@pytest.mark.parametrize("action", ["TransactWriteItems", "TransactGetItems"])
def test_transactions_as_normalize_reads_them(
    request_parameters: Any, action: str, enricher: Enricher
) -> None:
    """A transaction's tables and operations come from its request parsed whole, whatever its
    shape, beside a usual one; a response describing a table sends its row the old way."""
    base = {
        "eventTime": "2024-05-01T10:00:00Z",
        "eventName": action,
        "eventSource": "dynamodb.amazonaws.com",
        "resources": [
            {"ARN": "arn:aws:dynamodb:us-east-1:1:table/Held", "type": "AWS::DynamoDB::Table"}
        ],
    }
    records = [
        {**base, "requestParameters": request_parameters},
        {**base, "requestParameters": _TRANSACT_REQUESTS[0]},
        {**base, "requestParameters": _TRANSACT_REQUESTS[0],
         "responseElements": {"tableDescription": {"tableName": "Described"}}},
    ]  # fmt: skip
    fields = {"aws.dynamodb.table_name", "aws.dynamodb.operations"}
    texts = [json.dumps(r).encode() for r in records]
    assert assert_same_as_normalize(texts, fields, enricher) == ([0, 1], [2])


def test_rows_are_left_only_for_the_fields_they_want(enricher: Enricher) -> None:
    """Rows wanting different fields share a call: a row is left for what its own fields
    need (and a time only `normalize` reads), the rows wanting a field get it as alone, and
    the others get null in it."""
    base = {"eventTime": "2024-05-01T10:00:00Z", "eventSource": "dynamodb.amazonaws.com",
            "recipientAccountId": "111122223333", "userIdentity": {"type": "IAMUser"}}  # fmt: skip
    records = [
        {**base, "eventName": "PutItem", "requestParameters": {"tableName": "Music"}},
        {**base, "eventName": "ExecuteStatement",
         "requestParameters": {"statement": "UPDATE Music SET a = 1", "tableName": "Other"}},
        {**base, "eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com",
         "responseElements": {"ConsoleLogin": "Failure"}},
        {**base, "eventName": "PutItem", "eventTime": "2024-05-01T10:00:00.5Z"},
        {**base, "eventName": "UserAuthentication", "eventSource": "signin.amazonaws.com",
         "additionalEventData": {"UserName": "zed"}},
        {**base, "eventName": "GetItem", "requestParameters": {"tableName": "Books"}},
    ]  # fmt: skip
    texts = [json.dumps(r).encode() for r in records]
    narrowed = ("event.outcome", "aws.dynamodb.operations", "aws.dynamodb.table_name",
                "user.name")  # fmt: skip
    fields = frozenset({"@timestamp", "event.id", *narrowed})
    columns = skimmed_columns(texts, fields)
    every = normalized_columns(columns, fields, INGESTED, enricher)
    assert (every.done, every.left) == ([0, 5], [1, 2, 3, 4])
    only_first_and_last = np.array([True, False, False, False, False, True])
    wanting = dict.fromkeys(narrowed, only_first_and_last)
    shared = normalized_columns(columns, fields, INGESTED, enricher, wanting)
    assert (shared.done, shared.left) == ([0, 1, 2, 4, 5], [3])
    at = pa.array([shared.done.index(0), shared.done.index(5)])
    for name in (*narrowed, "@timestamp", "event.id"):
        assert shared.batch.column(name).take(at).equals(every.batch.column(name)), name
    tables = shared.batch.column("aws.dynamodb.table_name").take(at)
    assert tables.to_pylist() == [["Music"], ["Books"]]
    # the rows not wanting a narrowed field hold null in it, as a call of their own gives
    others = pa.array([shared.done.index(k) for k in (1, 2, 4)])
    for name in narrowed:
        assert shared.batch.column(name).take(others).null_count == 3, name
