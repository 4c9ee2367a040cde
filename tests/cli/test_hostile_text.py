"""Text an attacker chose reaches a person only escaped: on stderr, in tables, in JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trailhound.escaping import json_bytes, printable

# A terminal title change, a screen clear, a bell, a forged line and a right-to-left override.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x07\r\ntrailhound: all clear \u202egnp.\u2066x\x85\x7f"
BACKUP = "arn:aws:dynamodb:us-east-1:111122223333:table/T/backup/01"
UNSAFE = ["\x1b", "\x07", "\r", "\u202e", "\u2066", "\x85", "\x7f"]


def _run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "trailhound", *map(str, args)], capture_output=True, timeout=120
    )


def _record(**extra: object) -> dict[str, object]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "eventTime": "2026-03-01T10:00:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteBackup",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"backupArn": BACKUP},
        "eventID": "hostile-1",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
        **extra,
    }  # fmt: skip


def _assert_escaped(text: str) -> None:
    for char in UNSAFE:
        assert char not in text, f"{char!r} reached the user raw"


def test_file_names_and_keys_are_escaped_on_stderr(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / f"{HOSTILE.replace(chr(10), '').replace(chr(13), '')}.json").write_text(
        json.dumps({HOSTILE: 1, "other": 2})
    )
    (logs / "good.json").write_text(json.dumps({"Records": [_record()]}))
    done = _run("scan", logs, "--no-state", "--format", "jsonl")
    stderr = done.stderr.decode()
    _assert_escaped(stderr)
    assert "\\x1b]0;pwned\\x07" in stderr  # shown, as escapes: the user can see what it was
    assert all(line.startswith("trailhound: ") for line in stderr.splitlines())
    assert not any(line.startswith("trailhound: all clear") for line in stderr.splitlines())


def test_json_output_escapes_control_and_bidi_characters(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "hostile.json").write_text(json.dumps({"Records": [_record(userAgent=HOSTILE)]}))
    done = _run("scan", logs, "--no-state", "--format", "jsonl")
    assert done.returncode & 1, done.stderr.decode()
    out = done.stdout.decode()
    _assert_escaped(out)
    alert = json.loads(out.splitlines()[0])
    assert alert["evidence"][0]["user_agent"]["original"] == HOSTILE  # escaped, not altered


@pytest.mark.parametrize("value", [HOSTILE, {"k": [HOSTILE, 10**40]}, "plain é 日本"])
def test_json_bytes_round_trips_and_never_holds_unsafe_characters(value: object) -> None:
    data = json_bytes(value)
    _assert_escaped(data.decode())
    assert json.loads(data) == value


def test_printable_shows_every_unsafe_character_as_an_escape() -> None:
    shown = printable(HOSTILE, None)
    _assert_escaped(shown)
    assert "\n" not in shown
    assert shown.startswith("\\x1b]0;pwned\\x07")
    assert "\\u202e" in shown
