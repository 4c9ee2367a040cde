"""`scan` over good CloudTrail mixed with hostile and broken input raises exactly the alerts of
the good records alone: bad input neither hides an attack nor invents one."""

from __future__ import annotations

import random

from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.harness import alert_ids, folder, pack
from fuzz.hostile import (
    bad_line,
    damaged_gzip,
    junk_file,
    line,
    names,
    neutral,
    wrong_type,
)
from fuzz.profiles import fuzz
from fuzz.strategies import (
    FORMS,
    Record,
    good_files,
    good_records,
    hostile_strings,
    ndjson,
    simulated_records,
)
from trailhound.rules.elastic import load_rule_text
from trailhound.rules.model import Rule
from trailhound.simulate import dynamodb_calls as ddb
from trailhound.simulate.records import Recorder
from trailhound.simulate.world import TABLES, principal


@st.composite
def hostile_additions(draw: st.DrawFn) -> dict[str, bytes]:
    """Files that hold nothing a DynamoDB rule may judge: bad lines, neutral records with
    hostile text or wrong types, junk, gzip cut or damaged, under odd names."""
    files: dict[str, bytes] = {}
    lines = [draw(bad_line(n)) for n in range(draw(st.integers(1, 6)))]
    files["zz-bad.ndjson"] = b"".join(lines)
    neutral_lines = [line(draw(hostile_strings(neutral(100 + n)))) for n in range(3)]
    files["zz-neutral.ndjson"] = b"".join(neutral_lines) + draw(wrong_type(200))
    damaged = damaged_gzip(b"".join(neutral_lines), draw(st.integers(0, 2**12)),
                           draw(st.sampled_from(["truncate", "flip"])))  # fmt: skip
    files["zz-damaged.json.gz"] = damaged
    for name in draw(st.lists(names(), max_size=4, unique=True)):
        files.setdefault(name, draw(junk_file()))
    return files


def with_bad_lines_inside(files: dict[str, bytes], bad: list[bytes]) -> dict[str, bytes]:
    """`files` with a bad line first in each NDJSON one and another after its first record."""
    out = dict(files)
    for name, data in files.items():
        if name.endswith(".ndjson") and len(bad) >= 2:
            first, rest = data.split(b"\n", 1)
            out[name] = bad.pop() + first + b"\n" + bad.pop() + rest
    return out


@given(records=good_records(), data=st.data())
@fuzz(0.25)
def test_hostile_input_neither_hides_nor_invents_an_alert(
    records: list[Record], data: st.DataObject
) -> None:
    """The alerts of a folder of good records, and of the same folder with hostile files beside
    them and bad lines between their records, are the same alerts (same ids)."""
    good = data.draw(good_files(records))
    mixed = with_bad_lines_inside(good, [data.draw(bad_line(n)) for n in range(3)])
    for name, content in data.draw(hostile_additions()).items():
        mixed.setdefault(name, content)
    with folder(good) as path:
        expected = alert_ids(path)
    with folder(mixed) as path:
        got = alert_ids(path)
    event(f"alerts: {'some' if expected else 'none'}")
    assert got == expected


def _six_deletions() -> list[Record]:
    """One principal deleting six tables within a minute: "Multiple Tables Deleted"."""
    recorder = Recorder(random.Random(7), 7)
    alice = principal("alice")
    tables = [t for t in TABLES if t.account == alice.account]
    return [ddb.delete_table(recorder, alice, 1_772_442_000 + 10 * i, t)
            for i, t in enumerate(tables[:6])]  # fmt: skip


@given(records=simulated_records(max_bursts=4), data=st.data())
@example(records=_six_deletions()[:1], data=None)  # type: ignore[arg-type]
@fuzz(0.15)
def test_an_event_delivered_twice_counts_once(
    records: list[Record], data: st.DataObject | None
) -> None:
    """Events delivered again (an organization trail and an account trail; a file read from
    two places; EventBridge and S3 both): the alerts are those of one delivery. The explicit
    example is the issue's: one DeleteTable delivered six times."""
    good = {"a.ndjson": ndjson(records)}
    if data is None:
        again = {f"copy-{i}.ndjson": ndjson(records) for i in range(5)}
    else:
        copies = data.draw(st.lists(st.sampled_from(records), min_size=1, max_size=12))
        form = data.draw(st.sampled_from(sorted(FORMS)))
        again = {f"again.{form}": FORMS[form](copies)}
    with folder(good) as path:
        expected = alert_ids(path)
    with folder({**good, **again}) as path:
        got = alert_ids(path)
    assert got == expected


# A rule that loads, and fails only when a scan runs it (its time comparison is no time).
FAILING_RULE = '''
[rule]
rule_id = "0f0f0f0f-0000-4000-8000-00000000dead"
name = "Fuzz: a rule that fails when run"
description = "Compares @timestamp with text that is no time; loads, fails in the scan."
type = "query"
language = "kuery"
query = 'event.provider: "dynamodb.amazonaws.com" and @timestamp > "%s"'
risk_score = 21
severity = "low"
'''


def failing_rule(text: str) -> Rule:
    rule = load_rule_text(FAILING_RULE % text, source="failing.toml")
    assert isinstance(rule, Rule)
    return rule


@given(records=good_records(max_bursts=3), text=st.sampled_from(["garbage", "soon", "n0w-1d"]))
@example(records=_six_deletions(), text="garbage")
@fuzz(0.1)
def test_a_rule_that_fails_does_not_stop_the_others(records: list[Record], text: str) -> None:
    """One broken rule among the pack: the pack's alerts are all raised, as without it."""
    with folder({"a.ndjson": ndjson(records)}) as path:
        expected = alert_ids(path)
        got = alert_ids(path, [*pack(), failing_rule(text)])
    assert {a for a in got if a in expected} == expected


def test_the_failing_rule_loads() -> None:
    """The premise of the isolation property: the rule is valid to the loader, so only a scan
    can find it broken (as a user's rule from an older version might be)."""
    rule = failing_rule("garbage")
    assert rule.name == "Fuzz: a rule that fails when run"
