"""The user's story end to end: `trailhound watch s3://…` over a trail's bucket (moto_server on
loopback), alerts to Slack and PagerDuty (the local receiver that checks their formats), each
alert exactly once, also when trailhound is killed with kill -9 mid-step and started again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.corpus import environment
from support.receiver_fixture import Receiver, running

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
BUCKET = "watched-trail"
PREFIX = "org"
SEVERITIES = ("low", "medium", "high", "critical")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with running(tmp_path / "received.jsonl", None) as started:
        yield started


@pytest.fixture
def trailhound(
    aws: str, tmp_path: Path, receiver: Receiver
) -> Callable[..., subprocess.CompletedProcess[str]]:
    config = tmp_path / "trailhound.toml"
    config.write_text(
        f"""
[state]
path = "state.duckdb"

[sources.trail]
bucket = "{BUCKET}"
prefix = "{PREFIX}"

[outputs.team-slack]
type = "slack"
url = "{receiver.url}/slack/T000/B000/XXXX"
min_severity = "medium"

[outputs.oncall]
type = "pagerduty"
url = "{receiver.url}/pagerduty/v2/enqueue"
routing_key_env = "PD_ROUTING_KEY"
min_severity = "high"
""",
        encoding="utf-8",
    )
    env = {**environment(tmp_path), "PD_ROUTING_KEY": ROUTING_KEY}

    def run(*args: str, module: str = "trailhound") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", module, *args, "--config", str(config)],
            env=env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip

    return run


def upload(logs: Path, files: list[Path]) -> None:
    import boto3
    from botocore.config import Config

    # a request the busy test server leaves unanswered is tried again, not fatal
    s3 = boto3.client("s3", config=Config(read_timeout=15, retries={"mode": "standard",
                                                                       "max_attempts": 5}))
    for file in files:
        s3.upload_file(str(file), BUCKET, f"{PREFIX}/{file.relative_to(logs.parent)}")


def accepted(receiver: Receiver, kind: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for request in receiver.requests():
        if request["path"].startswith(f"/{kind}/") and request.get("verdict") == "ok":
            body: dict[str, Any] = request["json"]
            if kind == "pagerduty":
                found[body["dedup_key"]] += 1
            else:
                found[json.dumps(body["blocks"][-1]).split("trailhound alert `")[1][:32]] += 1
    return found


def at_least(alerts: list[dict[str, Any]], severity: str) -> Counter[str]:
    least = SEVERITIES.index(severity)
    return Counter(a["id"] for a in alerts if SEVERITIES.index(a["rule"]["severity"]) >= least)


def test_watching_a_bucket_sends_each_alert_once_also_after_kill_9(
    aws: str,
    cloudtrail_day: Path,
    tmp_path: Path,
    receiver: Receiver,
    trailhound: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    files = sorted(cloudtrail_day.rglob("*.json.gz"), key=lambda p: p.name.split("_")[3])
    half = len(files) // 2
    upload(cloudtrail_day, files[:half])
    first = trailhound("watch", "--once", "-q", "--format", "jsonl", "--lateness", "6h")
    assert first.returncode in (0, 1), first.stderr

    upload(cloudtrail_day, files[half:])
    killed = trailhound("watch-committed", "watch", "--once", "-q", "--lateness", "6h",
                        module="support.corpus")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = trailhound("watch", "--once", "-q", "--format", "jsonl", "--lateness", "6h")
    assert again.returncode in (0, 1), again.stderr
    quiet = trailhound("watch", "--once", "-q", "--format", "jsonl", "--lateness", "6h")
    assert quiet.returncode in (0, 1), quiet.stderr

    scanned = subprocess.run(
        [sys.executable, "-m", "trailhound", "scan", str(cloudtrail_day), "--no-state", "-q",
         "--format", "jsonl"],
        env=environment(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    alerts = [json.loads(line) for line in scanned.stdout.splitlines()]
    assert at_least(alerts, "medium"), "the simulated day should hold alerts worth a page"
    assert accepted(receiver, "slack") == at_least(alerts, "medium")
    assert accepted(receiver, "pagerduty") == at_least(alerts, "high")
    printed = [json.loads(line)["id"] for r in (first, again, quiet)
               for line in r.stdout.splitlines()]  # fmt: skip
    assert Counter(printed) == Counter(a["id"] for a in alerts)
