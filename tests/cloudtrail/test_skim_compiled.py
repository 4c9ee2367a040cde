"""The compiled skimmer answers exactly as the reference does: the same files refused, the same
record spans and the same member values (text, raw and keys columns), on simulated, real,
generated and damaged files; and a file it reads is one msgspec reads, record for record."""

from __future__ import annotations

import gzip
import json
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.profiles import fuzz
from trailhound.cloudtrail import skim
from trailhound.cloudtrail.record import decode_record, decode_records_file
from trailhound.cloudtrail.skim import Admission, Skimmed, Skimmer, compiled_skimmer, keys_path
from trailhound.cloudtrail.skim_reference import reference_skimmer
from trailhound.simulate import simulate

PATHS = (
    "eventTime",
    "eventName",
    "eventSource",
    "errorMessage",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "requestParameters.tableName",
    "userIdentity.sessionContext.attributes.creationDate",
    "additionalEventData.\u00e9t\u00e9",
    # keys columns: beside a text path and a raw path in the same object, over a raw path
    # holding another, and over an object text paths go on through
    keys_path("requestParameters", ["tableName", "TableName", "requestItems", "x", "\u00e9"]),
    keys_path("responseElements", ["tableDescription", "table", "type"]),
    keys_path("userIdentity.sessionContext", ["userName", "k", "x"]),
)


RAW = (
    "resources",
    "responseElements",
    "responseElements.tableDescription",  # a raw path inside another
    "requestParameters.requestItems",  # beside the text path requestParameters.tableName
    "userIdentity.sessionContext",  # the text paths below it go on through it
    "additionalEventData.x",
)
"""Raw paths as a stage asks for them, meeting the text paths in every way they can."""

ADMISSION = Admission(
    always=frozenset({"userIdentity.type", "resources", PATHS[-2]}),
    providers=frozenset({"", "p\u00e9", "dynamodb.amazonaws.com"}),
    actions=frozenset({"", "\x00"}),
    pairs=frozenset({("s", "n"), ("a", ""), ("n", "s")}),
)
"""Records read in full by a provider, an action or both (`_one`'s "n" with eventSource "s"
only), with text, raw and keys paths read at every record; the values generated files hold
are mostly short, "" often, and a simulated file's DynamoDB records are admitted."""


class Both:
    """The compiled skimmer for PATHS (and RAW, or no raw path; and an admission, or none),
    with the reference for the same paths beside it."""

    def __init__(self, raw: tuple[str, ...], admission: Admission | None = None) -> None:
        found = compiled_skimmer(PATHS, raw, admission)
        if found is None:
            pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
        self.skimmer: Skimmer = found
        self.reference = reference_skimmer(PATHS, raw, admission)
        self.raw = raw

    def __call__(self, text: bytes) -> Skimmed | None:
        return self.skimmer(text)


@pytest.fixture(
    scope="module", params=[((), None), (RAW, None), (RAW, ADMISSION)],
    ids=["text", "raw", "admitted"],
)  # fmt: skip
def compiled(request: pytest.FixtureRequest) -> Both:
    return Both(*request.param)


def _same(compiled: Both, text: bytes) -> Skimmed | None:
    """Asserts that both skimmers answer alike; a file they read is one msgspec reads."""
    got, want = compiled(text), compiled.reference(text)
    assert (got is None) == (want is None), text[:300]
    if got is None or want is None:
        return None
    assert got.starts.type == want.starts.type and got.starts.equals(want.starts)
    assert got.ends.equals(want.ends)
    assert _picked(got) == _picked(want)
    assert list(got.columns) == list(want.columns)
    for path, column in want.columns.items():
        assert got.columns[path].type == column.type
        assert got.columns[path].to_pylist() == column.to_pylist(), path
        got.columns[path].validate(full=True)
    records = decode_records_file(text)
    starts, ends = got.starts.to_pylist(), got.ends.to_pylist()
    assert [decode_record(text[s:e]) for s, e in zip(starts, ends, strict=True)] == records
    return got


def _picked(skimmed: Skimmed) -> list[int] | None:
    return None if skimmed.picked is None else skimmed.picked.tolist()


# -- files as trails deliver them ---------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated_files(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=11, events=4_000)
    return [gzip.decompress(p.read_bytes()) for p in sorted(out.rglob("*.json.gz"))]


def test_simulated_files_read_alike(compiled: Both, simulated_files: list[bytes]) -> None:
    read = [_same(compiled, text) for text in simulated_files]
    assert all(r is not None for r in read)
    assert sum(len(r) for r in read if r is not None) >= 4_000


def test_rows_picked_across_files_are_those_of_the_reference(
    compiled: Both, simulated_files: list[bytes]
) -> None:
    """A batch takes its kept rows' columns from many files' blocks in one step per path;
    that step gives what each file's own columns give, row for row."""
    texts = simulated_files[:25]
    got = [compiled(t) for t in texts]
    want = [compiled.reference(t) for t in texts]
    assert all(g is not None and g.block is not None for g in got)
    rng = random.Random(3)
    rows = sum(len(w) for w in want if w is not None)
    taken = sorted(rng.sample(range(rows), rows // 3))
    paths = [PATHS[4], PATHS[1], PATHS[7], *compiled.raw[:2]]
    from_blocks = skim.picked_columns([g for g in got if g is not None], taken, paths)
    from_columns = skim.picked_columns([w for w in want if w is not None], taken, paths)
    assert {p: c.to_pylist() for p, c in from_blocks.items()} == {
        p: c.to_pylist() for p, c in from_columns.items()
    }
    assert any(v is not None for v in from_columns[PATHS[7]].to_pylist())


def _real_files(root: Path) -> list[bytes]:
    """The real records under ../shared/data, in Records form as their text stands (pretty
    printed, in arrays, one a line) and one record a file."""
    real = root / "dynamodb-real"
    files = [gzip.decompress((real / "s3_delivery_Records.json.gz").read_bytes())]
    lines = (real / "dynamodb_records.ndjson").read_bytes().splitlines()
    files.append(b'{"Records":[' + b",\n".join(line for line in lines if line.strip()) + b"]}")
    for path in sorted((root / "negative/stratus-red-team").glob("*.json")):
        files.append(b'{ "Records" :\n' + path.read_bytes() + b"\n}\n")
    for row in (root / "negative/panther/panther_cloudtrail_rule_tests.ndjson").open():
        files.append(b'{"Records":[' + json.dumps(json.loads(row)["log"]).encode() + b"]}")
    return files


def test_real_files_read_alike(compiled: Both, shared_data: Path) -> None:
    read = [_same(compiled, text) for text in _real_files(shared_data)]
    assert read[0] is not None and read[1] is not None and len(read[1]) == 32
    assert 0 < sum(r is None for r in read) < len(read)  # Panther's odd shapes are refused


def test_damaged_real_files_answer_alike(compiled: Both, shared_data: Path) -> None:
    texts = _real_files(shared_data)[:6]
    rng = random.Random(12)
    for _ in range(400):
        _same(compiled, _damaged(rng, rng.choice(texts)))


def _damaged(rng: random.Random, text: bytes) -> bytes:
    at = rng.randrange(len(text))
    kind = rng.randrange(6)
    if kind == 0:
        return text[:at]
    if kind == 1:
        return text[:at] + bytes([text[at] ^ (1 << rng.randrange(8))]) + text[at + 1 :]
    inserted = [b'"', b"\\", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800"][rng.randrange(6)]
    if kind == 2:
        return text[:at] + inserted + text[at:]
    if kind == 3:
        return text[:at] + inserted + text[at + 1 :]
    if kind == 4:
        return text[:at] + b"{" * 70 + text[at:]
    return text[:at] + text[at + 1 :]


# -- generated records ---------------------------------------------------------------------------

_KEYS = st.sampled_from(
    ["eventTime", "eventName", "eventSource", "awsRegion", "readOnly", "userIdentity", "type",
     "arn", "sessionContext", "sessionIssuer", "userName", "requestParameters", "tableName",
     "attributes", "creationDate", "additionalEventData", "\u00e9t\u00e9", "errorMessage", "x", "",
     "resources", "responseElements", "tableDescription", "requestItems", "TableName",
     "table", "k"]
)  # fmt: skip
_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from('"\\/\b\f\n\r\t\x00\x1f\u2028'),
    max_size=12,
)
_SCALARS = (
    _TEXT
    | st.none()
    | st.booleans()
    | st.integers(-(10**21), 10**21)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(st.tuples(_KEYS | _TEXT, inner), max_size=4).map(lambda p: ("object", p))
    ),
    max_leaves=12,
)


@st.composite
def _record(draw: st.DrawFn) -> list[tuple[str, Any]]:
    pairs = [("eventTime", draw(_TEXT)), ("eventName", draw(_TEXT))]
    pairs += draw(st.lists(st.tuples(_KEYS, _VALUES), max_size=6))
    return draw(st.permutations(pairs))


def _encode(value: Any, draw: st.DrawFn) -> str:
    space = draw(st.sampled_from(["", "", " ", "\n\t ", "\r\n"]))
    if isinstance(value, tuple) and value[:1] == ("object",):
        members = [f"{_encode_text(k, draw)}{space}:{_encode(v, draw)}" for k, v in value[1]]
        return "{" + space + f",{space}".join(members) + space + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v, draw) for v in value) + space + "]"
    if isinstance(value, str):
        return _encode_text(value, draw)
    return json.dumps(value)


def _encode_text(value: str, draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return json.dumps(value, ensure_ascii=draw(st.booleans()))
    return '"' + "".join(f"\\u{ord(c):04X}" if ord(c) < 0x10000 else c for c in value) + '"'


@st.composite
def _file(draw: st.DrawFn) -> bytes:
    records = draw(st.lists(_record(), max_size=4))
    body = ",".join(_encode(("object", pairs), draw) for pairs in records)
    key = draw(st.sampled_from(['"Records"', '"\\u0052ecords"', '"records"']))
    return f" {{{key}: [{body}] }}\n".encode()


@fuzz(2.0)
@given(text=_file())
@example(text=b'{"Records":[{"eventTime":"t","eventName":"n","x":12345678901234567890}]}')
@example(text=b'{"Records":[{"eventTime":"t","eventName":"n","x":1e100}]}')
@example(text=b'{"Records":[{"eventTime":"t","eventName":"n","x":-0.5E-07}]}')
def test_generated_files_read_alike(compiled: Both, text: bytes) -> None:
    _same(compiled, text)


@fuzz(2.0)
@given(text=_file(), data=st.data())
def test_mutated_generated_files_answer_alike(compiled: Both, text: bytes, data: Any) -> None:
    _same(compiled, _damaged(random.Random(data.draw(st.integers(0, 2**32))), text))


@fuzz(2.0)
@given(text=st.binary(max_size=80).map(lambda b: b'{"Records":[{"eventTime":"' + b))
def test_arbitrary_bytes_answer_alike(compiled: Both, text: bytes) -> None:
    _same(compiled, text + b'","eventName":"n"}]}')


# -- the edges, one by one -----------------------------------------------------------------------


def _one(members: str) -> bytes:
    return ('{"Records":[{"eventTime":"t","eventName":"n"' + members + "}]}").encode()


@pytest.mark.parametrize(
    "name", [*skim.REQUIRED_TEXT, *skim.OPTIONAL_TEXT, *skim.TEXT_OR_BOOL, "other"]
)
@pytest.mark.parametrize("value", ['"v"', "null", "true", "1", "[]", "{}"])
def test_typed_members_are_held_alike(compiled: Both, name: str, value: str) -> None:
    members = {"eventTime": '"t"', "eventName": '"n"', name: value}
    body = ",".join(f'"{key}":{text}' for key, text in members.items())
    _same(compiled, ('{"Records":[{' + body + "}]}").encode())


@pytest.mark.parametrize("levels", [62, 63, 64, 65])
def test_depth_is_held_at_the_same_level(compiled: Both, levels: int) -> None:
    got = _same(compiled, _one(',"x":' + "[" * levels + "]" * levels))
    assert (got is not None) == (levels <= 63)  # the record's own object is the 64th level


def test_deep_nesting_far_past_the_limit_is_refused(compiled: Both) -> None:
    assert compiled(_one(',"x":' + "[" * 1_000_000)) is None
    assert compiled(_one(',"x":' + '{"a":' * 100_000)) is None


@pytest.mark.parametrize(
    "members",
    [
        ',"eventName":"m"',
        ',"event\\u004eame":"m"',
        ',"userIdentity":{"type":"a","type":"b"}',
        ',"userIdentity":{"t\\u0079pe":"a","type":"b"}',
        ',"userIdentity":{"sessionContext":{"x":1,"x":2}}',
        ',"responseElements":{"x":1,"x":2}',  # an object no path passes through
        ',"x":1,"y":2,"x":3',  # keys no path wants, while they are few
        ',"\\u0078":1,"x":2',
        "".join(f',"k{i}":{i}' for i in range(9)) + ',"k0":0',  # ... and once they are many
        "".join(f',"k{i}":{i}' for i in range(9)) + ',"eventSource":"a","eventSource":"b"',
        ',"userIdentity":{"a":1,"b":2,"a":3}',
        ',"userIdentity":{"arn":"a","sessionContext":null}',
        ',"requestParameters":"T"',
        ',"requestParameters":{"tableName":["T"]}',
    ],
)
def test_duplicate_keys_and_path_shapes_alike(compiled: Both, members: str) -> None:
    _same(compiled, _one(members))


def test_many_keys_in_one_object_are_checked_alike(compiled: Both) -> None:
    many = "".join(f',"k{i}":{i}' for i in range(20_000))
    assert _same(compiled, _one(many)) is not None
    assert _same(compiled, _one(many + ',"k77":0')) is None
    nested = ',"userIdentity":{"type":"a"' + many + "}"
    assert _same(compiled, _one(nested)) is not None


@pytest.mark.parametrize(
    "value",
    ["\\ud83d\\ude00", "\\uD83D\\uDE00", "\\ud83d", "\\ude00", "\\ud83dx", "\\u12", "\\x",
     "\u00e9\u4e2d\U0001f600", "\\u0000", "\x7f", "\t", "\\/"],
)  # fmt: skip
def test_escapes_and_unicode_in_values_alike(compiled: Both, value: str) -> None:
    _same(compiled, _one(f',"eventSource":"{value}","userIdentity":{{"arn":"{value}"}}'))


@pytest.mark.parametrize(
    "raw",
    [b"\xc0\x80", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8", b"\x80",
     b"\xc3", b"\xef\xbb\xbf", b"\xf0\x9f\x98\x80"],
)  # fmt: skip
def test_invalid_utf8_is_refused_alike(compiled: Both, raw: bytes) -> None:
    _same(compiled, b'{"Records":[{"eventTime":"' + raw + b'","eventName":"n"}]}')


def test_bytes_like_texts_are_read(compiled: Both) -> None:
    text = _one(',"eventSource":"s"')
    got = compiled(memoryview(text))  # type: ignore[arg-type]
    assert got is not None and got.columns["eventSource"].to_pylist() == ["s"]


def test_a_path_given_twice_gives_one_column() -> None:
    found = compiled_skimmer(["eventName", "eventName"])
    if found is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    got = found(_one(""))
    assert got is not None and list(got.columns) == ["eventName"]


def test_a_skimmer_travels_to_a_worker_process(compiled: Both) -> None:
    text = _one(',"eventSource":"s"')
    again = pickle.loads(pickle.dumps(compiled.skimmer))
    got, want = again(text), compiled(text)
    assert got is not None and want is not None
    assert got.columns["eventSource"].equals(want.columns["eventSource"])
    assert _picked(got) == _picked(want)


@pytest.mark.parametrize(
    "members",
    ['', ',"userIdentity":null', ',"userIdentity":"u"', ',"userIdentity":{"type":"t"}',
     ',"readOnly":true', ',"readOnly":"true"', ',"readOnly":null'],
)  # fmt: skip
def test_paths_that_meet_are_held_alike(members: str) -> None:
    paths = ["userIdentity", "userIdentity.type", "readOnly", "eventName"]
    found = compiled_skimmer(paths)
    if found is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    text = _one(members)
    got, want = found(text), reference_skimmer(paths)(text)
    assert (got is None) == (want is None)
    if got is not None and want is not None:
        assert {p: c.to_pylist() for p, c in got.columns.items()} == {
            p: c.to_pylist() for p, c in want.columns.items()
        }


@pytest.mark.parametrize(
    "members",
    [
        ',"resources":[ {"ARN" :"a\\u00e9"} , 1,"x\\n",[]]',
        ',"resources":"\\"quoted\\" \\\\ \\ud83d\\ude00 \u00e9"',
        ',"resources":-0.5E-07',
        ',"resources":12345678901234567890',  # past the digit limit: refused
        ',"resources":true,"responseElements":false',
        ',"resources":null,"responseElements":null',
        ',"resources":{},"responseElements":[]',
        ',"resources":{"a":1,"a":2}',  # nothing reads inside: as the reference, kept
        ',"responseElements":{"tableDescription":{"t":"T"},"x":[1, 2]}',
        ',"responseElements":{"tableDescription":"T"}',
        ',"responseElements":{"tableDescription":1,"tableDescription":2}',
        ',"responseElements":{"x":1,"x":2}',  # an object a raw path passes through
        ',"responseElements":"text"',  # ... must be an object, as a string path's
        ',"requestParameters":{"tableName":"T","requestItems":{"T":[{"PutRequest":{}}]}}',
        ',"requestParameters":{"requestItems":{"T":[]},"tableName":["T"]}',
        ',"requestParameters":{"requestItems":1,"requestItems":1}',
        ',"requestParameters":[{"requestItems":1}]',
        ',"userIdentity":{"sessionContext":{"sessionIssuer":{"userName":"u"}, "k":"v"}}',
        ',"userIdentity":{"sessionContext":{"sessionIssuer":{"userName":1}}}',
        ',"userIdentity":{"sessionContext":{"attributes":null}\n}',
        ',"userIdentity":{"sessionContext":"s"}',
        ',"additionalEventData":{"x":{"\\u0078":[{"y":null}]},"\u00e9t\u00e9":"e"}',
        ',"additionalEventData":{"x":{"a":' + "[" * 60 + "]" * 60 + "}}",
        ',"additionalEventData":{"x":{"a":' + "[" * 61 + "]" * 61 + "}}",  # too deep
        ',"additionalEventData":{"\\u0078":"escaped key","y":2}',
        ',"additionalEventData":{"x":"a","\\u0078":"b"}',
    ],
)
def test_raw_values_edges_alike(members: str) -> None:
    """Raw values of every JSON type, with escapes and blank space kept as they stand, nested
    in and beside text paths, and the shapes both skimmers refuse."""
    both = Both(RAW)
    text = _one(members)
    got = _same(both, text)
    if got is not None:
        record = json.loads(text)["Records"][0]
        for path in RAW:
            value: Any = record
            for name in path.split("."):
                value = value.get(name) if isinstance(value, dict) else None
            raw = got.columns[path][0].as_py()
            assert (None if raw is None else json.loads(raw)) == value, path


def test_raw_values_of_simulated_files_stand_in_their_text(simulated_files: list[bytes]) -> None:
    both = Both(RAW)
    for text in simulated_files[:30]:
        got = _same(both, text)
        assert got is not None
        starts = got.starts.to_pylist()
        for path in RAW:
            for start, raw in zip(starts, got.columns[path].to_pylist(), strict=True):
                assert raw is None or text.find(raw.encode(), start) > start


# -- many texts in one call ---------------------------------------------------------------------


def _many_alike(compiled: Both, texts: list[bytes]) -> list[Skimmed | None]:
    """Asserts that one call for all the texts answers as one call per text, file by file."""
    many = skim.skimmed_all(compiled.skimmer, texts)
    assert len(many) == len(texts)
    for text, got in zip(texts, many, strict=True):
        alone = compiled(text)
        assert (got is None) == (alone is None) == (compiled.reference(text) is None)
        if got is None or alone is None:
            continue
        assert got.starts.equals(alone.starts) and got.ends.equals(alone.ends)
        assert _picked(got) == _picked(alone)
        assert list(got.columns) == list(alone.columns)
        for path, column in alone.columns.items():
            assert got.columns[path].equals(column), path
            got.columns[path].validate(full=True)
    return many


def test_many_texts_in_one_call_answer_as_each_alone(
    compiled: Both, simulated_files: list[bytes]
) -> None:
    rng = random.Random(5)
    texts = simulated_files[:40]
    # refused files among them: the records a refused file had read before its fault are
    # forgotten, wherever in a byte of validity bits it stopped
    mixed = [_damaged(rng, t) if k % 3 == 1 else t for k, t in enumerate(texts)]
    mixed += [b'{"Records":[]}', _one(',"eventSource":"s"'), b"", _one(',"x":1,"x":2')]
    many = _many_alike(compiled, mixed)
    assert sum(m is None for m in many) >= 3 and sum(m is not None for m in many) >= 20
    blocks = {id(m.block) for m in many if m is not None}
    assert len(blocks) == 1  # one set of arrays for every file answered


@fuzz(1.0)
@given(texts=st.lists(_file(), max_size=6), data=st.data())
def test_many_generated_texts_answer_as_each_alone(
    compiled: Both, texts: list[bytes], data: Any
) -> None:
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    _many_alike(compiled, [_damaged(rng, t) if t and rng.random() < 0.4 else t for t in texts])


def test_rows_picked_across_shared_and_own_blocks_are_the_reference_s(
    compiled: Both, simulated_files: list[bytes]
) -> None:
    """A batch's files may come from calls of many texts and of one: the rows it takes are
    those of each file's own columns."""
    texts = simulated_files[:30]
    got = [
        *skim.skimmed_all(compiled.skimmer, texts[:12]),
        *(compiled(t) for t in texts[12:15]),
        *skim.skimmed_all(compiled.skimmer, texts[15:]),
    ]
    want = [compiled.reference(t) for t in texts]
    assert all(g is not None for g in got) and all(w is not None for w in want)
    rows = sum(len(w) for w in want if w is not None)
    taken = sorted(random.Random(4).sample(range(rows), rows // 3))
    paths = [PATHS[4], PATHS[7], *compiled.raw[:3]]
    from_blocks = skim.picked_columns([g for g in got if g is not None], taken, paths)
    from_columns = skim.picked_columns([w for w in want if w is not None], taken, paths)
    assert {p: c.to_pylist() for p, c in from_blocks.items()} == {
        p: c.to_pylist() for p, c in from_columns.items()
    }


def test_many_takes_only_bytes(compiled: Both) -> None:
    with pytest.raises(TypeError):
        compiled.skimmer.many([memoryview(_one(""))])  # type: ignore[attr-defined]


def test_answers_in_bytes_or_in_pool_buffers_are_alike(
    compiled: Both, simulated_files: list[bytes]
) -> None:
    """The extension fills buffers from the allocator it is given (pyarrow's pool), else
    bytes of its own, and keeps its working buffers between calls: every call answers
    alike."""
    from trailhound.cloudtrail import _skim  # type: ignore[attr-defined]

    paths = skim.split_paths(PATHS)
    raw = skim.split_paths(skim.raw_paths(PATHS, compiled.raw))
    texts = [*simulated_files[:6], _one(',"x":1,"x":2'), *simulated_files[6:9]]
    answers = []
    for made in (_skim.Skimmer(paths, raw), _skim.Skimmer(paths, raw, pa.allocate_buffer)):
        for _ in range(2):
            alone = [made(t) for t in texts]
            together = made.many(texts)
            answers.append(
                [
                    None
                    if a is None
                    else (
                        a[0],
                        bytes(a[1]),
                        [bytes(x) if x is not None else None for x in a[2][:3]],
                        a[2][3],
                    )
                    for a in alone
                ]
                + [
                    together[0],
                    bytes(together[1][1]),
                    [bytes(x) if x is not None else None for x in together[1][2][:3]],
                ]
            )
    assert all(a == answers[0] for a in answers)
    assert answers[0][6] is None and answers[0][0] is not None


def test_picked_rows_taken_again_straight_from_the_blocks(
    compiled: Both, simulated_files: list[bytes]
) -> None:
    """The normalizer takes some paths at some of a batch's picked rows, and a part of the
    batch: from the blocks in one step, they are what the picked columns taken again give."""
    texts = simulated_files[:20]
    got = [g for g in skim.skimmed_all(compiled.skimmer, texts) if g is not None]
    want = [w for w in (compiled.reference(t) for t in texts) if w is not None]
    rows = sum(len(w) for w in want)
    rng = random.Random(5)
    taken = sorted(rng.sample(range(rows), rows // 2))
    paths = [PATHS[7], PATHS[4], *compiled.raw[:2]]
    picked = skim.picked_columns(got, taken, paths)
    assert isinstance(picked, skim.PickedColumns)
    columns = skim.picked_columns(want, taken, paths)
    some = sorted(rng.sample(range(len(taken)), len(taken) // 3))
    at_rows = picked.at_rows(paths[1:], some)
    assert list(at_rows) == paths[1:]
    for path in paths[1:]:
        assert at_rows[path].to_pylist() == columns[path].take(some).to_pylist()
    backwards = np.array(some[::-1], np.int64)
    for path in paths:
        array, places = picked.where(path, backwards)  # read in place, no take
        assert array.take(pa.array(places)).to_pylist() == columns[path].take(backwards).to_pylist()
    part = picked.part(10, 40)
    assert list(part) == paths
    for path in paths:
        assert part[path].to_pylist() == columns[path].to_pylist()[10:40]


def test_a_refused_texts_values_are_forgotten_where_no_later_record_has_the_member(
    compiled: Both,
) -> None:
    """A column's offsets are written when it gets a value, not at every record's end: the
    value a refused text gave a member that no later record holds must still leave no trace."""
    given = _one(',"eventSource":"s","userIdentity":{"type":"t"}')
    refused = given.replace(b'"t"}', b'"t",}')  # the fault comes after both values
    texts = [_one(""), refused, _one(""), _one(',"errorMessage":"m"'), given]
    many = _many_alike(compiled, texts)
    assert [m is None for m in many] == [False, True, False, False, False]


_KEYED = keys_path("requestParameters", ["tableName", "TableName", "requestItems", "x", "\u00e9"])


@pytest.mark.parametrize(
    "members",
    [
        ',"requestParameters":{"tableName":"T"}',
        ',"requestParameters":{"item":{"x":{"TableName":{"S":"v"}}},"tableName":"T"}',
        ',"requestParameters":{"t\\u0061bleName":"T","\\u00e9":1,"\u00e9":2}',  # escaped keys
        ',"requestParameters":{"a":{"x":1,"x":2},"b":[{"x":null},{"x":[]}]}',  # nested repeats
        ',"requestParameters":{"a":"\\"tableName\\":","b":["tableName","x"]}',  # only values
        ',"requestParameters":{"a":' + '{"x":' * 60 + "1" + "}" * 60 + "}",  # at the limit
        ',"requestParameters":{"a":' + '{"x":' * 63 + "1" + "}" * 63 + "}",  # too deep
        ',"requestParameters":[{"tableName":"T"},[{"x":1}]]',
        ',"requestParameters":"tableName"',
        ',"requestParameters":{}',
        ',"requestParameters":null',
        ',"requestParameters":7',
        ',"requestParameters":{"tableName":"T","tableName":"U"}',  # refused: a path's object
        ',"requestParameters":{"tableNam":1,"tableNames":2,"TableNam\\u0065":3,"X":4}',
        ',"x":{"tableName":1}',  # outside the path: not counted
    ],
)
def test_keys_columns_edges_alike(members: str) -> None:
    """A keys column names the keys held at any depth within its path's value, escapes read,
    each once and in order; values that merely look like keys do not count."""
    paths = ("eventName", "requestParameters.tableName", _KEYED)
    for raw in ((), ("requestParameters",)):
        found = compiled_skimmer(paths, raw)
        if found is None:
            pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
        text = _one(members)
        got, want = found(text), reference_skimmer(paths, raw)(text)
        assert (got is None) == (want is None), members
        if got is not None and want is not None:
            assert got.columns[_KEYED].to_pylist() == want.columns[_KEYED].to_pylist()
            held = _held_keys(json.loads(text)["Records"][0].get("requestParameters"))
            order = ("TableName", "requestItems", "tableName", "x", "\u00e9")  # sorted
            wanted = [k for k in order if k in held]
            assert got.columns[_KEYED].to_pylist() == [",".join(wanted) or None]


def _held_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_held_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_held_keys(v) for v in value))
    return set()


@pytest.mark.parametrize(
    "paths",
    [
        [keys_path("a", ["x"]), keys_path("a.b", ["y"])],  # one within another
        [keys_path("a.b", ["y"]), keys_path("a", ["x"])],
        [keys_path("a", ["x"]), keys_path("a", ["y"])],
        ["a.{y,x}"],  # keys not in order
        ["a.{x,x}"],
        ["a.{}"],
        ["a.{" + ",".join(sorted(f"k{i:02d}" for i in range(65))) + "}"],  # too many
    ],
)
def test_keys_paths_that_cannot_be_read_are_errors(paths: list[str]) -> None:
    with pytest.raises(ValueError):
        compiled_skimmer(paths)
    with pytest.raises(ValueError):
        reference_skimmer(paths)


def test_a_keys_path_is_no_raw_path() -> None:
    with pytest.raises(ValueError):
        compiled_skimmer(["eventName"], [keys_path("a", ["x"])])


def test_an_admission_reads_in_full_only_the_records_it_admits() -> None:
    """Wherever the provider and action stand in a record, before or after the other values
    (or absent), only an admitted record has its other paths read."""
    paths = ["eventSource", "eventName", "awsRegion", "userIdentity.arn"]
    raw = ["requestParameters"]
    admission = Admission(
        frozenset({"awsRegion"}), frozenset({"dynamodb"}), pairs=frozenset({("kms", "Decrypt")})
    )
    found = compiled_skimmer(paths, raw, admission)
    if found is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    records = [
        '{"userIdentity":{"arn":"a0"},"requestParameters":{"k":1},"eventSource":"dynamodb",'
        '"eventTime":"t","eventName":"GetItem","awsRegion":"r0"}',
        '{"userIdentity":{"arn":"a1"},"eventTime":"t","eventName":"Decrypt","awsRegion":"r1",'
        '"requestParameters":[2],"eventSource":"s3"}',
        '{"eventSource":"kms","eventName":"Decrypt","eventTime":"t","userIdentity":{"arn":"a2"},'
        '"requestParameters":"x"}',
        '{"eventTime":"t","eventName":"Decrypt","userIdentity":{"arn":"a3"},"awsRegion":"r3"}',
        '{"eventSource":null,"eventTime":"t","eventName":"GetItem","requestParameters":3}',
    ]
    text = ('{"Records":[' + ",".join(records) + "]}").encode()
    got, want = found(text), reference_skimmer(paths, raw, admission)(text)
    assert got is not None and want is not None
    assert _picked(got) == _picked(want) == [0, 2]
    columns = {p: c.to_pylist() for p, c in got.columns.items()}
    assert columns == {p: c.to_pylist() for p, c in want.columns.items()}
    assert columns["userIdentity.arn"] == ["a0", None, "a2", None, None]
    assert columns["requestParameters"] == ['{"k":1}', None, '"x"', None, None]
    assert columns["awsRegion"] == ["r0", "r1", None, "r3", None]
    assert columns["eventSource"] == ["dynamodb", "s3", "kms", None, None]


def test_an_admission_judges_by_text_paths_it_reads() -> None:
    admission = Admission(frozenset(), frozenset({"dynamodb"}))
    with pytest.raises(ValueError, match="eventSource"):
        reference_skimmer(["eventName"], ["eventSource"], admission)
    with pytest.raises(ValueError, match="eventSource"):
        compiled_skimmer(["eventName"], ["eventSource"], admission)
