"""The compiled readers of batch and transaction requests (`_requests.c`) answer exactly as the
Python readers (`record_members`), or refuse: on real and simulated requests, on requests made
up by hypothesis (odd shapes, escapes, duplicate keys, deep nesting), and on hostile bytes."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.real_records import real_record_texts

from trailhound.cloudtrail import request_readers
from trailhound.cloudtrail.record_members import BatchWrites
from trailhound.cloudtrail.request_readers import PYTHON_READERS, compiled_only
from trailhound.simulate import simulate

ACTIONS = sorted(PYTHON_READERS)


@pytest.fixture(autouse=True)
def _built() -> None:
    if request_readers.compiled_readers() is None:
        pytest.skip("the C extension trailhound.cloudtrail._requests was not built (no compiler?)")


def _seen(read: BatchWrites | None) -> Any:
    return None if read is None else (read.tables, read.operations.to_pylist())


def assert_alike(action: str, requests: pa.Array) -> bool:
    """The compiled reader's answer is the Python one's, or a refusal; the registry's answer
    (refusals read in Python) is always the Python one's. Whether the compiled one answered."""
    every = np.arange(len(requests), dtype=np.int64)
    want = _seen(PYTHON_READERS[action](requests, every))
    got = compiled_only(action, requests)
    if got is not None:
        assert got.operations.type == pa.list_(pa.string())
        assert _seen(got) == want, requests.to_pylist()
    assert _seen(request_readers.readers()[action](requests, every)) == want
    return got is not None


# -- real and simulated requests ------------------------------------------------------------------


def _requests_by_action(texts: list[bytes]) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {action: [] for action in ACTIONS}
    for text in texts:
        record = json.loads(text)
        if record.get("eventName") in found:
            request = record.get("requestParameters")
            found[record["eventName"]].append(None if request is None else json.dumps(request))
    return found


@pytest.fixture(scope="module")
def simulated_requests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str | None]]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=7, events=20_000)
    texts = []
    for path in sorted(out.rglob("*.json.gz")):
        records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
        texts += [json.dumps(record).encode() for record in records]
    return _requests_by_action(texts)


def test_simulated_requests_read_alike_and_all_compiled(
    simulated_requests: dict[str, list[str | None]],
) -> None:
    for action in ("BatchWriteItem", "BatchGetItem", "TransactWriteItems"):
        requests = simulated_requests[action]
        assert len(requests) > 5, action
        array = pa.array(requests, pa.string())
        assert assert_alike(action, array)
        assert assert_alike(action, array[1:-1])  # sliced: an offset into the buffers


def test_real_requests_read_alike(shared_data: Path) -> None:
    by_action = _requests_by_action(real_record_texts(shared_data))
    assert sum(map(len, by_action.values())) > 0
    for action, requests in by_action.items():
        for request in requests:  # one at a time: a refusal refuses the whole array
            assert_alike(action, pa.array([request], pa.string()))
        assert_alike(action, pa.array(requests, pa.string()))


# -- shapes worth naming --------------------------------------------------------------------------

WRITE = "BatchWriteItem"
GET = "BatchGetItem"
TWRITE = "TransactWriteItems"
TGET = "TransactGetItems"


@pytest.mark.parametrize(
    ("action", "text", "compiled"),
    [
        (WRITE, '{"requestItems":{"A":[{"putRequest":{}},{"deleteRequest":null}]}}', True),
        (WRITE, '{"requestItems":{"arn:aws:dynamodb:r:1:table/T/stream/x":[],"":[]}}', True),
        (WRITE, '{"requestItems":{"arn:aws:s3:::b/table/T":[],"arn:x":[]}}', True),
        (WRITE, r'{"requestItems":{"\u0041\u00e9\ud83d\ude00":[{"PutRequest":{}}]}}', True),
        (WRITE, '{"requestItems":{"A":[{"putRequest":{},"PutRequest":{}}]}}', True),
        (WRITE, '{"requestItems":{"A":[{"putRequest":{},"deleteRequest":{}}]}}', False),
        (WRITE, '{"requestItems":{"A":[],"A":[{"putRequest":{}}]}}', False),
        (WRITE, '{"requestItems":{"A":[null]}}', False),
        (WRITE, '{"requestItems":{"A":[]},"tableName":"B"}', False),
        (WRITE, '{"requestItems":{"A":[]},"tableName":null,"RequestItems":null}', True),
        (WRITE, r'{"requestItems":{"A":[{"putRequest":{"x":"\ud800"}}]}}', False),
        (WRITE, '{"requestItems":{"A":[{"putRequest":{"x":1e999}}]}}', False),
        (WRITE, "[]", False),
        (GET, '{"requestItems":{"A":{"keys":null,"Keys":[{},{}]},"B":{},"C":{"keys":[]}}}', True),
        (GET, '{"requestItems":{"A":{"keys":[1]}}}', False),
        (GET, '{"requestItems":{"A":{"keys":[{}],"keys":[{},{}]}}}', False),
        (
            TWRITE,
            '{"requestItems":[{"operation":"Put","tableName":"T","key":{"k":{"S":"v"}}}]}',
            True,
        ),
        (
            TWRITE,
            '{"transactItems":[{"Put":{"TableName":"T"}},{"Delete":{"tableName":"U"}}]}',
            True,
        ),
        (
            TWRITE,
            '{"requestItems":[],"transactItems":[{"operation":"Update","tableName":"T"}]}',
            True,
        ),
        (TWRITE, '{"requestItems":[{"operation":"Nope","tableName":"","Put":{}},7,null]}', True),
        (TWRITE, '{"requestItems":[{"operation":"Put","operation":"Delete"}]}', False),
        (TWRITE, '{"requestItems":[{"Put":{"tableName":"A","tableName":"B"}}]}', False),
        (TWRITE, '{"requestItems":[{"statement":"DELETE FROM T"}]}', False),
        (TWRITE, '{"requestItems":{"T":[]}}', False),
        (TWRITE, '"just text"', True),
        (TGET, '{"transactItems":[{"x":1},2,[3]]}', True),
        (TGET, '{"transactItems":[{"Get":{"tableName":"T"}}],"RequestItems":[{"get":{}}]}', True),
    ],
)
def test_shapes_read_alike_or_refused(action: str, text: str, compiled: bool) -> None:
    assert assert_alike(action, pa.array([text, None], pa.string())) == compiled


def test_nulls_slices_and_empty_arrays() -> None:
    texts = ['{"requestItems":{"A":[{"putRequest":{}}]}}', None, "null",
             '{"requestItems":{"B":[{"deleteRequest":{}}]}}']  # fmt: skip
    array = pa.array(texts, pa.string())
    for start in range(len(texts)):
        for stop in range(start, len(texts) + 1):
            assert assert_alike(WRITE, array[start:stop])
    assert assert_alike(WRITE, pa.array([], pa.string()))
    assert assert_alike(WRITE, pa.array(texts, pa.large_string()))


def test_requests_read_at_positions_as_taken() -> None:
    """One array holding several actions' requests, each action's read at its positions."""
    texts = pa.array(
        [
            '{"requestItems":{"A":[{"putRequest":{}}]}}',
            '{"requestItems":[{"operation":"Delete","tableName":"T"}]}',
            None,
            '{"requestItems":{"B":[{"deleteRequest":{}},{"putRequest":{}}]}}',
            '{"requestItems":{"C":{"keys":[{},{}]}}}',
        ],
        pa.string(),
    )[1:]
    for action, positions in [(WRITE, [1, 2]), (TWRITE, [0]), (GET, [3]), (WRITE, [2, 1, 1])]:
        at = np.array(positions, np.int64)
        want = _seen(PYTHON_READERS[action](texts, at))
        assert want == _seen(request_readers.readers()[action](texts, at))
        assert want == _seen(compiled_only(action, texts.take(pa.array(at))))
        assert want == _seen(compiled_only(action, texts, at))
    assert compiled_only(WRITE, texts, np.array([4], np.int64)) is None  # past the end
    assert compiled_only(WRITE, texts, np.array([-1], np.int64)) is None


def test_deep_nesting_is_refused_not_followed() -> None:
    deep = '{"requestItems":{"A":[{"putRequest":{"x":' + "[" * 5000 + "]" * 5000 + "}}]}}"
    assert not assert_alike(WRITE, pa.array([deep], pa.string()))
    shallow = '{"requestItems":{"A":[{"putRequest":{"x":' + "[" * 20 + "]" * 20 + "}}]}}"
    assert assert_alike(WRITE, pa.array([shallow], pa.string()))


def test_huge_lists_read_alike() -> None:
    items = ",".join(['{"deleteRequest":{"key":{"k":{"N":"1"}}}}'] * 20_000)
    tables = ",".join(f'"T{i}":[{items if i == 0 else ""}]' for i in range(300))
    texts = ['{"requestItems":{' + tables + "}}", '{"requestItems":{"A":[' + items + "]}}"]
    assert not assert_alike(WRITE, pa.array(texts[:1], pa.string()))  # more tables than read
    assert assert_alike(WRITE, pa.array(texts[1:], pa.string()))


# -- made up by hypothesis ------------------------------------------------------------------------


class Pairs(list[tuple[str, Any]]):
    """An object as written: its members in order, a key maybe twice."""


KEYS = ["requestItems", "RequestItems", "transactItems", "TransactItems", "putRequest",
        "PutRequest", "deleteRequest", "DeleteRequest", "keys", "Keys", "operation", "Put",
        "Delete", "Update", "ConditionCheck", "Get", "get", "conditionCheck", "tableName",
        "TableName", "sourceTableName", "globalTableName", "statement", "tableArn", "key",
        "returnConsumedCapacity", "T", "arn:aws:dynamodb:us-east-1:1:table/Music/stream/1",
        "arn:aws::r:1:table/", "", "é", "\U0001f600", "\x00", 'q"\\']  # fmt: skip
OPERATIONS = ["Put", "Update", "Delete", "ConditionCheck", "Get", "get", "put", "x", ""]

# numbers mostly within msgspec's limits (past them, the compiled readers refuse)
numbers = st.one_of(st.integers(-(10**12), 10**12), st.floats(-1e9, 1e9),
                    st.integers(-(10**25), 10**25), st.floats(allow_nan=False))  # fmt: skip
leaves = st.one_of(
    st.none(), st.booleans(), numbers, st.sampled_from(OPERATIONS + KEYS), st.text(max_size=8)
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Pairs]:
    return st.lists(st.tuples(keys, children), max_size=5).map(Pairs)


values = st.recursive(leaves, lambda c: st.one_of(st.lists(c, max_size=4), _objects(c)),
                      max_leaves=30)  # fmt: skip


def _obj(*pairs: tuple[str, Any]) -> Pairs:
    return Pairs(pairs)


@st.composite
def write_requests(draw: st.DrawFn) -> Any:
    kind = st.sampled_from(["putRequest", "PutRequest", "deleteRequest", "DeleteRequest"])
    body = st.one_of(st.none(), _objects(values), values)
    item = st.one_of(st.lists(st.tuples(st.one_of(kind, keys), body), max_size=3).map(Pairs),
                     values)  # fmt: skip
    tables = st.lists(st.tuples(keys, st.one_of(st.lists(item, max_size=4), values)), max_size=3)
    extra = st.lists(st.tuples(keys, values), max_size=2)
    return Pairs([("requestItems", Pairs(draw(tables))), *draw(extra)])


@st.composite
def get_requests(draw: st.DrawFn) -> Any:
    key_list = st.one_of(st.none(), st.lists(st.one_of(_objects(leaves), leaves), max_size=4),
                         values)  # fmt: skip
    entry = st.lists(st.tuples(st.one_of(st.sampled_from(["keys", "Keys"]), keys), key_list),
                     max_size=3).map(Pairs)  # fmt: skip
    tables = st.lists(st.tuples(keys, st.one_of(entry, values)), max_size=3).map(Pairs)
    extra = st.lists(st.tuples(keys, values), max_size=2)
    return Pairs([("requestItems", draw(tables)), *draw(extra)])


@st.composite
def transact_requests(draw: st.DrawFn) -> Any:
    inner = _objects(st.one_of(leaves, st.sampled_from(["T", "U", ""])))
    member = st.tuples(keys, st.one_of(leaves, inner, values))
    operation = st.tuples(st.just("operation"), st.one_of(st.sampled_from(OPERATIONS), leaves))
    pairs = st.lists(st.one_of(member, operation), max_size=5)
    distinct = pairs.map(lambda found: Pairs(dict(found).items()))  # no key twice
    item = st.one_of(distinct, distinct, pairs.map(Pairs), values)
    lists = st.sampled_from(["requestItems", "RequestItems", "transactItems", "TransactItems"])
    listed = st.tuples(lists, st.lists(item, max_size=4))
    members = st.one_of(listed, listed, listed, st.tuples(st.one_of(lists, keys), values))
    return Pairs(draw(st.lists(members, max_size=3)))


def _written(value: Any, rng: random.Random) -> str:
    """JSON text of a value, with random blanks and escapes (`Pairs` keep their order)."""
    blank = rng.choice(["", "", " ", "\n\t "])
    if isinstance(value, Pairs):
        members = [f"{_string(k, rng)}{blank}:{blank}{_written(v, rng)}" for k, v in value]
        return "{" + blank + f",{blank}".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_written(v, rng) for v in value) + blank + "]"
    if isinstance(value, str):
        return _string(value, rng)
    return json.dumps(value)


def _string(text: str, rng: random.Random) -> str:
    if rng.random() < 0.2:
        return json.dumps(text, ensure_ascii=True)
    if rng.random() < 0.1 and text:  # one ASCII letter written as an escape
        at = rng.randrange(len(text))
        if text[at].isascii() and text[at] not in '"\\':
            return json.dumps(text[:at], ensure_ascii=False)[:-1] + (
                f"\\u{ord(text[at]):04x}" + json.dumps(text[at + 1 :], ensure_ascii=False)[1:]
            )
    return json.dumps(text, ensure_ascii=False)


def _texts(requests: list[Any], seed: int) -> pa.Array:
    rng = random.Random(seed)
    texts = [None if r is None else _written(r, rng) for r in requests]
    return pa.array([t.encode("utf-8", "surrogatepass") if t else t for t in texts], pa.binary())


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.lists(st.one_of(st.none(), write_requests()), max_size=4), st.integers(0, 99))
def test_made_up_batch_writes(requests: list[Any], seed: int) -> None:
    assert_alike(WRITE, _texts(requests, seed))


@SETTINGS
@given(st.lists(st.one_of(st.none(), get_requests()), max_size=4), st.integers(0, 99))
def test_made_up_batch_gets(requests: list[Any], seed: int) -> None:
    assert_alike(GET, _texts(requests, seed))


@SETTINGS
@given(st.lists(st.one_of(st.none(), transact_requests(), values), max_size=4),
       st.sampled_from([TWRITE, TGET]), st.integers(0, 99))  # fmt: skip
def test_made_up_transactions(requests: list[Any], action: str, seed: int) -> None:
    assert_alike(action, _texts(requests, seed))


# -- hostile bytes --------------------------------------------------------------------------------


def _damaged(rng: random.Random, text: bytes) -> bytes:
    data = bytearray(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.4 and data:
            del data[at : at + rng.randint(1, 8)]
        elif choice < 0.8:
            data[at:at] = bytes(rng.choice(b'{}[]",:\\u0\xff\xc3\xed\xa0 nule') for _ in range(3))
        else:
            data[at:at] = data[: rng.randint(0, 40)]
    return bytes(data)


def _valid_requests() -> Iterator[tuple[str, bytes]]:
    yield WRITE, b'{"requestItems":{"A":[{"putRequest":{"item":{"k":{"S":"v\\u00e9"}}}}]}}'
    yield GET, b'{"requestItems":{"A":{"keys":[{"k":{"N":"1"}}],"Keys":null}}}'
    yield TWRITE, b'{"requestItems":[{"operation":"Put","tableName":"T","key":{"k":[1,2.5e3]}}]}'
    yield TGET, b'{"transactItems":[{"Get":{"tableName":"T","key":{}}}]}'


def test_hostile_bytes_never_crash_and_never_differ() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        action, text = rng.choice(list(_valid_requests()))
        damaged = [_damaged(rng, text) for _ in range(rng.randint(1, 3))]
        assert_alike(action, pa.array(damaged, pa.binary()))
