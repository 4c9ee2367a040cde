"""The reference skimmer: it answers exactly for the files msgspec reads whole, with the spans
and member values a user's record holds, and refuses every file the usual way must read."""

from __future__ import annotations

import gzip
import json

import pytest
from tests.support.skimmed import path_columns

from trailhound.cloudtrail.record import decode_record, decode_records_file
from trailhound.cloudtrail.skim_reference import reference_skimmer
from trailhound.simulate import simulate

PATHS = (
    "eventSource",
    "eventName",
    "userIdentity.type",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "requestParameters.tableName",
)


@pytest.fixture(scope="module")
def simulated_files(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=5, events=3_000)
    return [gzip.decompress(p.read_bytes()) for p in sorted(out.rglob("*.json.gz"))]


def test_spans_and_values_are_the_records(simulated_files: list[bytes]) -> None:
    skim = reference_skimmer(PATHS)
    for text in simulated_files:
        skimmed = skim(text)
        assert skimmed is not None
        records = decode_records_file(text)
        assert len(skimmed) == len(records)
        starts, ends = skimmed.starts.to_pylist(), skimmed.ends.to_pylist()
        for i, record in enumerate(records):
            piece = text[starts[i] : ends[i]]
            assert decode_record(piece) == record
            by_definition = path_columns([piece], PATHS)
            assert by_definition is not None
            for path in PATHS:
                assert skimmed.columns[path][i].as_py() == by_definition[path][0].as_py()


def test_escapes_spaces_and_bytes_offsets() -> None:
    text = (
        ' {"\\u0052ecords" : [ {"eventTime":"t","eventName":"\\u00e9","userIdentity":null,'
        ' "requestParameters":{"tableName":"T\u00e9"}} ,\n{"eventTime":"t","eventName":"n"}] } '
    ).encode()
    skimmed = reference_skimmer(PATHS)(text)
    assert skimmed is not None
    second = text[skimmed.starts[1].as_py() : skimmed.ends[1].as_py()]
    assert second == b'{"eventTime":"t","eventName":"n"}'
    assert skimmed.columns["eventName"].to_pylist() == ["\u00e9", "n"]
    assert skimmed.columns["requestParameters.tableName"].to_pylist() == ["T\u00e9", None]
    assert skimmed.columns["userIdentity.type"].to_pylist() == [None, None]


@pytest.mark.parametrize(
    "text",
    [
        b'{"Records":[{"eventTime":"t","eventName":"n","eventTime":"u"}]}',  # duplicate member
        b'{"Records":[{"eventTime":"t"}]}',  # no eventName
        b'{"Records":[{"eventTime":"t","eventName":"n","awsRegion":3}]}',  # typed member off
        b'{"Records":[{"eventTime":"t","eventName":"n","readOnly":[]}]}',
        b'{"Records":[],"more":1}',  # not only Records
        b'\xef\xbb\xbf{"Records":[]}',  # a byte-order mark
        b'{"Records":[{"eventTime":"t","eventName":"\\ud800"}]}',  # lone surrogate
        b'{"Records":[{"eventTime":"t","eventName":"n","userIdentity":{"type":1}}]}',
        b'{"Records":[{"eventTime":"t","eventName":"n","userIdentity":"x"}]}',
        b'{"Records":[{"eventTime":"t","eventName":"n"}]} x',  # trailing text
        b'{"Records":[{"eventTime":"t","eventName":"n"},]}',  # trailing comma
        b'{"Records":[{"eventTime":"t","eventName":"n","x":NaN}]}',
        b'{"Records":[{"eventTime":"t","eventName":"\xff"}]}',  # not UTF-8
        b'{"Records":[1]}',
        b'[{"eventTime":"t","eventName":"n"}]',
        b'{"Records":[{"eventTime":"t","eventName":"n","x":' + b"[" * 70 + b"]" * 70 + b"}]}",
    ],
)
def test_refuses_what_the_usual_way_must_read(text: bytes) -> None:
    assert reference_skimmer(PATHS)(text) is None


def test_an_empty_file_of_records_is_read() -> None:
    skimmed = reference_skimmer(PATHS)(b'{"Records": []}')
    assert skimmed is not None and len(skimmed) == 0


def test_a_path_with_an_empty_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty name"):
        reference_skimmer(["userIdentity..type"])


RAW = ("resources", "requestParameters.item", "responseElements")


def test_raw_paths_give_each_value_s_json_text_as_it_stands() -> None:
    text = (
        b'{"Records":[{"eventTime":"t","eventName":"n","resources":[ {"ARN" :"a\\u00e9"} ],'
        b'"requestParameters":{"tableName":"T","item":{"k" : {"S":"v"}}},'
        b'"responseElements":null},'
        b'{"eventTime":"t","eventName":"n","requestParameters":{"item":3},'
        b'"responseElements":"x\\n"}]}'
    )
    skimmed = reference_skimmer(PATHS, RAW)(text)
    assert skimmed is not None
    assert skimmed.columns["resources"].to_pylist() == ['[ {"ARN" :"a\\u00e9"} ]', None]
    assert skimmed.columns["requestParameters.item"].to_pylist() == ['{"k" : {"S":"v"}}', "3"]
    assert skimmed.columns["responseElements"].to_pylist() == [None, '"x\\n"']
    assert skimmed.columns["requestParameters.tableName"].to_pylist() == ["T", None]


def test_simulated_raw_values_decode_to_the_records_members(
    simulated_files: list[bytes],
) -> None:
    skim = reference_skimmer(PATHS, RAW)
    for text in simulated_files[:20]:
        skimmed = skim(text)
        assert skimmed is not None
        for i, record in enumerate(json.loads(text)["Records"]):
            raw = skimmed.columns["resources"][i].as_py()
            assert (json.loads(raw) if raw is not None else None) == record.get("resources")
            raw = skimmed.columns["requestParameters.item"][i].as_py()
            request = record.get("requestParameters") or {}
            assert (json.loads(raw) if raw is not None else None) == request.get("item")


@pytest.mark.parametrize(
    "text",
    [
        b'{"Records":[{"eventTime":"t","eventName":"n","requestParameters":[1]}]}',
        b'{"Records":[{"eventTime":"t","eventName":"n",'
        b'"requestParameters":{"item":1,"item":2}}]}',
    ],
)
def test_raw_paths_refuse_what_string_paths_refuse(text: bytes) -> None:
    assert reference_skimmer(PATHS, RAW)(text) is None


def test_a_path_both_raw_and_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="both"):
        reference_skimmer(PATHS, ["eventName"])
