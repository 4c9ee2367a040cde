"""Issue 11's "done when": `normalize` and `scan` on a folder of the real data mixed with every
kind of hostile and broken input keep every good record and every good alert.

The real data is ../shared/data/dynamodb-real (every form a reader meets). Each kind of bad
input is added to a copy of that folder on its own, and then all together; the added files hold
only neutral records (STS calls no DynamoDB rule reads) besides the bad input, so the alerts
must be exactly those of the real folder alone, and every neutral record that is good must
come out of normalize too.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from fuzz.harness import alert_ids, normalize
from fuzz.hostile import (
    DEEP_JUNK,
    FREE_FORM,
    JUNK,
    NASTY_NAMES,
    NEUTRAL,
    ODD_NUMBERS,
    damaged_gzip,
    line,
    nested,
    neutral,
    neutral_with,
)
from fuzz.strategies import ATTACKER_STRINGS, NASTY, REAL, ndjson, with_text


@dataclass(frozen=True)
class Mixed:
    files: dict[str, bytes]
    survivors: frozenset[str]  # eventIDs of good records among the added files


Kind = Callable[[], Mixed]


def _neutral_file(first: int, count: int) -> list[bytes]:
    return [line(neutral(first + i)) for i in range(count)]


def _ids(first: int, count: int) -> frozenset[str]:
    return frozenset(f"neutral-{first + i}" for i in range(count))


def bad_lines_between_good_ones() -> Mixed:
    good = _neutral_file(0, 4)
    bad = [b'{"eventName": tru}\n', b'"just a string"\n', b"[]\n", b'{"hello": 1}\n', b"\n"]
    return Mixed({"between.ndjson": good[0] + b"".join(bad) + b"".join(good[1:])}, _ids(0, 4))


def wrong_types_in_every_member() -> Mixed:
    odd = [None, True, 7, 1.5, [], {}, ["x"], {"a": "b"}, ""]
    lines = [line(neutral(10))]
    for n, member in enumerate(sorted(NEUTRAL)):
        lines.append(line({**neutral(100 + n), member: odd[n % len(odd)]}))
    for n, member in enumerate(sorted(NEUTRAL["userIdentity"])):
        identity = {**NEUTRAL["userIdentity"], member: odd[(n + 3) % len(odd)]}
        lines.append(line({**neutral(200 + n), "userIdentity": identity}))
    return Mixed({"types.ndjson": b"".join(lines) + line(neutral(11))},
                 frozenset({"neutral-10", "neutral-11"}))  # fmt: skip


def hostile_text_in_every_string() -> Mixed:
    records = [with_text(neutral(300 + n), path, NASTY[n % len(NASTY)])
               for n, path in enumerate(ATTACKER_STRINGS * 2) if path != ("eventID",)]  # fmt: skip
    return Mixed({"text.ndjson": ndjson(records)}, frozenset(r["eventID"] for r in records))


def deep_nesting() -> Mixed:
    depths = [(m, d) for m in FREE_FORM for d in (100, 300, 601, 1000)]
    lines = [neutral_with(member, nested(depth, array=depth % 2 == 1), 400 + n)
             for n, (member, depth) in enumerate(depths)]  # fmt: skip
    # cut at 64 levels and kept; a thousand levels is deeper than any reader here follows, and
    # that record alone is set aside with its reason
    kept = frozenset(f"neutral-{400 + n}" for n, (_, d) in enumerate(depths) if d < 1000)
    return Mixed({"deep.ndjson": b"".join(lines)}, kept)


def huge_and_odd_numbers() -> Mixed:
    lines = [neutral_with("requestParameters", f'{{"limit": {v}}}', 500 + n)
             for n, v in enumerate(ODD_NUMBERS)]  # fmt: skip
    # alone in its file too: a file of one record is read as one JSON document
    alone = neutral_with("responseElements", '{"size": 1e999}', 599)
    return Mixed({"numbers.ndjson": b"".join(lines), "number-alone.json": alone},
                 _ids(500, len(lines)) | {"neutral-599"})  # fmt: skip


def duplicated_keys() -> Mixed:
    text = line(neutral(600)).rstrip(b"\n")
    twice = text[:-1] + b', "eventName": "GetCallerIdentity", "userAgent": ["x"]}\n'
    return Mixed({"keys.ndjson": line(neutral(601)) + twice + line(neutral(602))},
                 frozenset({"neutral-601", "neutral-602"}))  # fmt: skip


def duplicated_events() -> Mixed:
    copies = {f"again-{i}-{p.name}": p.read_bytes() for i in range(6) for p in real_files()}
    return Mixed(copies, frozenset())


def truncated_gzip() -> Mixed:
    data = b"".join(_neutral_file(700, 60))
    packed = gzip.compress(data, mtime=0)
    files = {f"cut-{at}.json.gz": packed[:at] for at in (0, 5, 11, len(packed) // 2)}
    return Mixed(files, frozenset())


def corrupted_gzip() -> Mixed:
    data = b"".join(_neutral_file(800, 200))
    # 200 neutral records pack to ~1.5 KB; byte 610 is in the deflate stream, after the
    # first dozen records, so those decompress unchanged
    return Mixed({"damaged.json.gz": damaged_gzip(data, 610, "flip")}, _ids(800, 12))


def junk_files_with_odd_names() -> Mixed:
    files = {name: JUNK[n % len(JUNK)] for n, name in enumerate(NASTY_NAMES)}
    return Mixed(files, frozenset())


def files_of_nesting_alone() -> Mixed:
    return Mixed({f"nest-{n}.json": junk for n, junk in enumerate(DEEP_JUNK)}, frozenset())


def a_first_line_that_is_no_record() -> Mixed:
    return Mixed({"first.ndjson": b"null\n" + b"".join(_neutral_file(900, 3))}, _ids(900, 3))


def many_files() -> Mixed:
    files = {f"many/{n:04d}.json": line(neutral(1000 + n)) for n in range(300)}
    return Mixed(files, _ids(1000, 300))


KINDS: dict[str, tuple[Kind, tuple[pytest.MarkDecorator, ...]]] = {
    "bad lines between good ones": (bad_lines_between_good_ones, ()),
    "wrong types in every member": (wrong_types_in_every_member, ()),
    "hostile text in every string": (hostile_text_in_every_string, ()),
    "deep nesting": (deep_nesting, ()),
    "huge and odd numbers": (huge_and_odd_numbers, ()),
    "duplicated keys": (duplicated_keys, ()),
    "duplicated events": (duplicated_events, ()),
    "truncated gzip": (truncated_gzip, ()),
    "corrupted gzip": (corrupted_gzip, ()),
    "junk files with odd names": (junk_files_with_odd_names, ()),
    "files of nesting alone": (files_of_nesting_alone, ()),
    "a first line that is no record": (a_first_line_that_is_no_record, ()),
    "many files": (many_files, ()),
}


def every_kind() -> Mixed:
    files: dict[str, bytes] = {}
    survivors: frozenset[str] = frozenset()
    for kind, _ in KINDS.values():
        mixed = kind()
        files.update(mixed.files)
        survivors |= mixed.survivors
    return Mixed(files, survivors)


CASES = [pytest.param(kind, id=name, marks=marks) for name, (kind, marks) in KINDS.items()]
CASES.append(pytest.param(every_kind, id="every kind at once"))


def real_files() -> list[Path]:
    if not REAL.is_dir():
        pytest.skip(f"shared test data not found at {REAL}")
    return sorted(p for p in REAL.iterdir() if p.is_file())


@contextmanager
def real_folder(extra: dict[str, bytes]) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="th-real-"))
    try:
        for source in real_files():
            shutil.copyfile(source, path / source.name)
        for name, data in extra.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(data)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@cache
def real_alone() -> tuple[frozenset[str], frozenset[str]]:
    """The eventIDs normalize keeps and the alerts scan raises for the real folder alone."""
    with real_folder({}) as path:
        return frozenset(normalize(path).ids), frozenset(alert_ids(path))


def test_the_real_folder_alone_is_read_whole_and_alerts() -> None:
    """The baseline: every real record is read, and the pack alerts on them (else "every good
    alert is kept" would hold of nothing)."""
    ids, alerts = real_alone()
    with real_folder({}) as path:
        report = normalize(path).report
    assert report.clean, [str(p) for p in report.problems]
    assert len(ids) >= 29 and alerts


@pytest.mark.parametrize("kind", CASES)
def test_real_data_mixed_with_hostile_input_keeps_every_good_record_and_alert(
    kind: Kind,
) -> None:
    good_ids, good_alerts = real_alone()
    mixed = kind()
    with real_folder(mixed.files) as path:
        out = normalize(path)
        alerts = alert_ids(path)
    missing = (good_ids | mixed.survivors) - set(out.ids)
    assert not missing, sorted(missing)
    assert alerts == good_alerts
