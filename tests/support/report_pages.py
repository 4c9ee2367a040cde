"""For the report's tests: a hostile CloudTrail corpus (synthetic records in the shape of the
real ones in the rule pack's tests, with attacker-chosen values), and what a page opened in
Chromium did."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

AlertMaker = Callable[..., dict[str, Any]]

# What an attacker controls in a CloudTrail record, and what each value tries to do.
SCRIPT_UA = "<script>alert('ua')</script>"
IMG_TABLE = '"><img src=x onerror=alert(1)>'
SVG_USER = "<svg onload=alert(2)>admin\u202egnp.exe"
JS_SOURCE = "javascript:alert(3)"
CLOSING = "</script><script>alert(4)</script><!--"
MENTIONS = "<!channel> <@U024BE7LH> @here"
SEPARATORS = "a\u2028b\u2029c"
STYLE_REGION = "us-east-1<style>body{display:none}</style>"
LINK_ACCOUNT = '123"onmouseover="alert(5)'
HOSTILE = (SCRIPT_UA, IMG_TABLE, SVG_USER, JS_SOURCE, CLOSING, MENTIONS, SEPARATORS, STYLE_REGION)


def hostile_records() -> list[dict[str, Any]]:
    """Scans, item deletions and a deletion-protection switch-off, each carrying the values
    above where CloudTrail copies what a caller sent."""
    records = []
    for n, (name, params) in enumerate(
        [
            ("Scan", {"tableName": IMG_TABLE, "filterExpression": CLOSING}),
            ("Scan", {"tableName": "orders", "note": MENTIONS, "sep": SEPARATORS}),
            ("DeleteItem", {"tableName": IMG_TABLE, "key": {"id": {"S": CLOSING}}}),
            ("UpdateTable", {"tableName": IMG_TABLE, "deletionProtectionEnabled": False}),
        ]
    ):
        records.append(
            {
                "eventVersion": "1.10",
                "userIdentity": {
                    "type": "AssumedRole",
                    "principalId": "AROAEXAMPLE:intruder",
                    "arn": "arn:aws:sts::123456789012:assumed-role/x/intruder",
                    "accountId": "123456789012",
                    "sessionContext": {
                        "sessionIssuer": {
                            "type": "Role",
                            "userName": SVG_USER,
                            "arn": "arn:aws:iam::123456789012:role/x",
                            "accountId": "123456789012",
                        }
                    },
                },
                "eventTime": f"2026-03-07T08:{10 + n:02d}:00Z",
                "eventSource": "dynamodb.amazonaws.com",
                "eventName": name,
                "awsRegion": STYLE_REGION,
                "sourceIPAddress": JS_SOURCE,
                "userAgent": SCRIPT_UA,
                "requestParameters": params,
                "responseElements": None,
                "eventID": f"hostile-{n}<b>bold</b>",
                "eventType": "AwsApiCall",
                "recipientAccountId": LINK_ACCOUNT,
                "eventCategory": "Management" if name == "UpdateTable" else "Data",
            }
        )
    return records


def hostile_rule_alert(make_alert: AlertMaker) -> dict[str, Any]:
    """An alert whose rule, too, is hostile: rule files come from anyone."""
    made = make_alert(
        rule_name="<img src=x onerror=alert('rule')>",
        severity="high\"><script>alert('sev')</script>",
        technique=("javascript:alert('t')", "<b>technique</b>"),
        key={"user.name": SVG_USER, "weird<field>": JS_SOURCE},
    )
    made["guide"] = (
        "## Triage\n\n- <script>alert('guide')</script> check `user.name`\n"
        "- [a link](javascript:alert('link')) and [docs](https://docs.aws.amazon.com/)\n"
        "- ![beacon](https://example.com/beacon.png)\n\n<iframe src=https://example.com></iframe>\n"
    )
    return made


def write_jsonl(path: Path, alerts: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in alerts))
    return path


# -- a real browser --------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Opened:
    """A page opened from a file, with what it did: dialogs, requests, errors."""

    page: Any
    url: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def shown(self) -> int:
        """How many alerts the list and the timeline show, checked to agree."""
        cards = self.js("document.querySelectorAll('#alert-list article.alert').length")
        return int(cards)

    def lit_marks(self) -> int:
        return int(self.js("document.querySelectorAll('#timeline-chart .mark:not(.off)').length"))

    def matching(self) -> str:
        return str(self.js("document.getElementById('shown').textContent"))




def alert_maker() -> AlertMaker:
    """A maker of alert dicts as `Alert.to_dict()` has them, field by field (synthetic)."""
    counter = iter(range(1_000_000))

    def make(
        *,
        time: str = "2026-03-07T08:00:00.000Z",
        rule_name: str = "AWS DynamoDB Table Scanned",
        rule_id: str | None = None,
        severity: str = "low",
        actor: str | None = "alice",
        table: str | None = "orders",
        ip: str | None = "203.0.113.7",
        country: str | None = "NL",
        account: str = "111122223333",
        region: str = "us-east-1",
        action: str = "Scan",
        count: int = 1,
        technique: tuple[str, str] | None = ("T1530", "Data from Cloud Storage"),
        key: dict[str, Any] | None = None,
        guide: str = "## Triage\n\n- Ask **who** ran it.\n",
    ) -> dict[str, Any]:
        n = next(counter)
        document: dict[str, Any] = {
            "@timestamp": time,
            "event": {"id": f"ev-{n}", "action": action, "outcome": "success"},
            "cloud": {"account": {"id": account}, "region": region},
            "user_agent": {"original": "aws-cli/2.24.5"},
        }
        if actor is not None:
            document["user"] = {"name": actor}
        if ip is not None:
            document["source"] = {"address": ip, "ip": ip}
            if country is not None:
                document["source"]["geo"] = {"country_iso_code": country}
        if table is not None:
            document["aws"] = {"dynamodb": {"table_name": table}}
        techniques = []
        if technique is not None:
            techniques = [{"id": technique[0], "name": technique[1], "subtechnique": []}]
        return {
            "id": f"alert-{n:05d}",
            "@timestamp": time,
            "kind": "alert",
            "rule": {
                "id": rule_id or f"rule-{rule_name}",
                "name": rule_name,
                "type": "query",
                "version": 1,
                "severity": severity,
                "risk_score": 21,
                "threat": [
                    {
                        "framework": "MITRE ATT&CK",
                        "tactic": {"id": "TA0009", "name": "Collection"},
                        "technique": techniques,
                    }
                ],
            },
            "key": key or {},
            "count": count,
            "event": {"ids": [f"ev-{n}"], "start": time, "end": time},
            "investigation_fields": {},
            "evidence": [document],
            "guide": guide,
        }

    return make


