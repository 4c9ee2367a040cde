"""Hostile and broken input: mutations of good CloudTrail, as bytes.

Each strategy makes input that trailhound must survive without losing anything around it:
records whose members have the wrong type, nesting deeper than any parser's stack, numbers
JSON cannot hold, keys given twice, events delivered twice, gzip cut or damaged at any byte,
JSON that is not CloudTrail with hostile keys, binary junk, and file names an attacker who can
write to the bucket may choose.

A "bad record" here is built on a neutral call (STS GetCallerIdentity, which no DynamoDB rule
reads): whether trailhound keeps it or sets it aside, it cannot change a DynamoDB alert, so a
scan with it must raise exactly the alerts of the good records alone.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from hypothesis import strategies as st

from fuzz.strategies import UNSAFE, Record, hostile_text

NEUTRAL: Record = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser", "principalId": "AIDAEXAMPLENEUTRAL", "arn":
        "arn:aws:iam::111122223333:user/neutral", "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLENEUTRAL", "userName": "neutral",
    },
    "eventTime": "2026-03-02T09:30:00Z",
    "eventSource": "sts.amazonaws.com",
    "eventName": "GetCallerIdentity",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.7",
    "userAgent": "aws-cli/2.15.38",
    "requestParameters": None,
    "responseElements": None,
    "requestID": "0d3c5e2a-0000-4000-8000-000000000000",
    "eventID": "neutral",
    "readOnly": True,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}  # fmt: skip

# Values of every JSON type, benign in content: the point is the type, not the text.
SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6)
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)

# JSON number spellings that no double or 64-bit integer holds exactly, written as text
# because Python's json would refuse or round them.
ODD_NUMBERS = (
    "1e999", "-1e999", "1e-999", "-0", "-0.0", "18446744073709551616",
    "123456789012345678901234567890", "1" * 400, "0.1e310", "4.9e-324", "1.7976931348623157e308",
)


def neutral(n: int) -> Record:
    return {**NEUTRAL, "eventID": f"neutral-{n}"}


def line(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


@st.composite
def wrong_type(draw: st.DrawFn, n: int) -> bytes:
    """A neutral record with one member (top level or in the identity) of the wrong type."""
    record = json.loads(json.dumps(neutral(n)))
    if draw(st.booleans()):
        record[draw(st.sampled_from(sorted(NEUTRAL)))] = draw(ANY_JSON)
    else:
        record["userIdentity"][draw(st.sampled_from(sorted(NEUTRAL["userIdentity"])))] = draw(
            ANY_JSON
        )
    return line(record)


def nested(depth: int, leaf: str = '"x"', key: str = "a", array: bool = False) -> str:
    """JSON text nested `depth` levels deep, built as text: Python's json would recurse."""
    if array:
        return "[" * depth + leaf + "]" * depth
    return f'{{"{key}":' * depth + leaf + "}" * depth


def neutral_with(member: str, text: str, n: int) -> bytes:
    """The line of a neutral record whose `member` is the JSON `text`, spliced in as text."""
    marker = "__SPLICE__"
    return line({**neutral(n), member: marker}).replace(f'"{marker}"'.encode(), text.encode())


FREE_FORM = ("requestParameters", "responseElements", "additionalEventData",
             "serviceEventDetails")


@st.composite
def deep(draw: st.DrawFn, n: int, depths: st.SearchStrategy[int]) -> bytes:
    """A record whose free-form member nests objects or arrays `depth` levels deep: CloudTrail
    caps an event at 256 KB, not its depth, so 1,000 levels (4 KB) are a valid event."""
    text = nested(draw(depths), array=draw(st.booleans()))
    return neutral_with(draw(st.sampled_from(FREE_FORM)), text, n)


@st.composite
def odd_number(draw: st.DrawFn, n: int) -> bytes:
    """A record whose free-form member holds a number no double or 64-bit integer holds."""
    value = draw(st.sampled_from(ODD_NUMBERS))
    return neutral_with(draw(st.sampled_from(FREE_FORM)), f'{{"limit": {value}}}', n)


@st.composite
def duplicated_keys(draw: st.DrawFn, n: int) -> bytes:
    """A neutral record with a member written twice, the second time with another value."""
    text = line(neutral(n)).rstrip(b"\n")
    key = draw(st.sampled_from(sorted(NEUTRAL)))
    again = json.dumps({key: draw(ANY_JSON)})[1:-1].encode()
    return text[:-1] + b", " + again + b"}\n"


@st.composite
def hostile_keys(draw: st.DrawFn) -> bytes:
    """JSON that is not CloudTrail, whose keys and values are hostile text (a reader that
    names the keys it found must not print them raw)."""
    keys = draw(st.lists(hostile_text, min_size=1, max_size=3, unique=True))
    return line({k: draw(hostile_text) for k in keys})


@st.composite
def invalid_json(draw: st.DrawFn, n: int) -> bytes:
    """A neutral record's line cut short or with a byte replaced: not JSON any more."""
    text = line(neutral(n)).rstrip(b"\n")
    at = draw(st.integers(1, len(text) - 2))
    if draw(st.booleans()):
        return text[:at] + b"\n"
    return text[:at] + bytes([draw(st.sampled_from(b',{}[]:"\\\x00\xff'))]) + text[at + 1 :] + b"\n"


def bad_line(n: int, *, deep_from: int = 2, deep_to: int = 1200) -> st.SearchStrategy[bytes]:
    """One bad line for an NDJSON file. `deep_*` bound the nesting depth drawn: up to beyond
    what any reader here follows (about a thousand levels)."""
    return st.one_of(
        wrong_type(n),
        deep(n, st.integers(deep_from, deep_to)),
        duplicated_keys(n),
        invalid_json(n),
        hostile_keys(),
        st.just(b'"just a string"\n'),
        st.just(b"\n"),
        st.just(b"[]\n"),
    )


# -- whole files ----------------------------------------------------------------------------------

# Names a bucket's keys may hold: a terminal title and clear, a bidi override that turns
# "json" into "nosj", a forged line, a bell, a Slack mention.
NASTY_NAMES = (
    "x\x1b]0;owned\x07\x1b[2J.json", "report\u202enosj.json", "a\r\ntrailhound: FORGED.json",
    "bell\x07.json.gz", "<!channel> <@U024BE7LH>.json", "tab\there\x7f\x9b.ndjson",
)  # fmt: skip


def names(unsafe: bool = True) -> st.SearchStrategy[str]:
    """File names: spaces, unicode, dashes, misleading suffixes, and (when `unsafe`) the
    control and bidi characters a bucket's keys may hold. Never hidden (no leading dot), never
    a path separator."""
    safe = st.sampled_from([
        "bad file.json", "-rf.json.gz", "évènement.ndjson", "not-gzip.json.gz", "x" * 120,
        "AWSLogs_111122223333_CloudTrail_us-east-1_2026-03-02T0900Z_a.json.gz",
        "README", "result_1.csv.gz", "data.parquet",
    ])  # fmt: skip
    if not unsafe:
        return safe
    # at most 50 characters: 4 bytes each still fit a file system's 255-byte name
    drawn = hostile_text.map(lambda t: "z" + t.replace("/", "_").replace("\x00", "0")[:50])
    return safe | st.sampled_from(NASTY_NAMES) | drawn.map(lambda t: t + ".json")


def damaged_gzip(data: bytes, at: int, how: str) -> bytes:
    """`data` gzipped, then cut at byte `at` or with byte `at` flipped."""
    packed = gzip.compress(data, mtime=0)
    at = at % len(packed)
    if how == "truncate":
        return packed[:at]
    return packed[:at] + bytes([packed[at] ^ 0xFF]) + packed[at + 1 :]


def recoverable_prefix(damaged: bytes, original: bytes) -> bytes:
    """The longest prefix of `original` that a decompressor reading `damaged` gives back
    unchanged: the part a reader can know is good."""
    out = b""
    try:
        d = zlib.decompressobj(wbits=31)
        for i in range(0, len(damaged), 64):
            out += d.decompress(damaged[i : i + 64])
            if not original.startswith(out):
                break
    except zlib.error:
        pass
    n = 0
    limit = min(len(out), len(original))
    while n < limit and out[n] == original[n]:
        n += 1
    return original[:n]


JUNK = (
    b"", b"\x1f\x8b", b"\x1f\x8b\x08\x00" + b"\x00" * 20, bytes(range(256)) * 8,
    b"hello\x1b[2J world\n", b"\xef\xbb\xbf{}", b'{"Records": 5}', b'{"Records": [1, 2]}',
    b"\x00" * 1000, "\u202e".encode() * 50, b'{"Records": [],,}', b"[1, 2", b'{"Records": [{',
)  # fmt: skip
# Files that are nothing but nesting: a parser that recurses runs out of stack on them.
DEEP_JUNK = (b"[" * 5000, b'{"Records": [' + b'{"a": ' * 3000, b"[" * 1200 + b"]" * 1200)


def junk_file(*, deep: bool = True) -> st.SearchStrategy[bytes]:
    """A whole file no CloudTrail reader can use. `deep` adds the files of nesting alone."""
    return st.sampled_from(JUNK + (DEEP_JUNK if deep else ())) | hostile_keys()


def has_unsafe(text: str) -> bool:
    return not UNSAFE.isdisjoint(text)
