"""Slack: Block Kit messages the receiver's format check accepts, with hostile values defused."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from support.outputs import deliver
from support.receiver import check_slack
from support.receiver_fixture import Receiver
from trailhound.errors import ConfigError
from trailhound.outputs.base import build_output
from trailhound.outputs.http import HttpOutput
from trailhound.outputs.slack import code, escape, message

MakeAlert = Callable[..., dict[str, Any]]
TOKEN = "XOXB0SECRET0TOKEN0abcdef"
ATTACK_LINK = re.compile(r"<https://attack\.mitre\.org/techniques/T\d{4}(?:/\d{3})?/\|[^<>|]+>")

# each carries a marker (ZZQ) that must only ever show inside a code span
HOSTILE = {
    "user": "<!channel> ZZQ1 @here @everyone *bold* _it_ ~strike~",
    "table": "<https://evil.example|click ZZQ2> `code` ZZQ3 &amp;",
    "agent": "ZZQ4 \x1b[31mred\x1b]8;;https://evil\x07 \u202eexe.txt",
    "ip": "<@U024BE7LH> ZZQ5",
    "country": "<#C024BE7LR|general> ZZQ6",
    "account": "*ZZQ7*",
    "region": "@channel ZZQ8",
    "action": "DeleteTable`>ZZQ9",
}


def slack(receiver: Receiver, **options: Any) -> HttpOutput:
    url = f"{receiver.url}/slack/T000/B000/{TOKEN}"
    output = build_output("chat", {"type": "slack", "url": url, **options})
    assert isinstance(output, HttpOutput)
    output.sleep = lambda _: None
    return output


def texts(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (type, text) of a message: the fallback as mrkdwn, then each text object."""
    found = [("mrkdwn", payload["text"])]
    for block in payload["blocks"]:
        objects = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        found += [(o["type"], o["text"]) for o in objects if o]
    return found


def outside_code(text: str) -> str:
    return "".join(text.split("`")[0::2])


def test_every_shipped_rule_makes_a_message_slack_accepts(
    receiver: Receiver, pack_alert: MakeAlert, pack_rule_names: list[str]
) -> None:
    alerts = [pack_alert(name, events=3) for name in pack_rule_names]
    assert deliver(slack(receiver), alerts) == {a["id"]: None for a in alerts}
    received = receiver.requests()
    assert [r["verdict"] for r in received] == ["ok"] * len(alerts)
    for request, alert in zip(received, alerts, strict=True):
        payload = request["json"]
        assert payload["blocks"][0]["text"]["text"] == alert["rule"]["name"]
        assert request["headers"]["Content-Type"].startswith("application/json")
        shown = "\n".join(t for _, t in texts(payload))
        assert alert["id"] in shown and "`dba-admin`" in shown and "`Orders`" in shown
        assert "First triage step: " in shown


def test_the_message_leads_with_the_facts(pack_alert: MakeAlert) -> None:
    alert = pack_alert("AWS DynamoDB Backup Deleted", events=2, action="DeleteBackup")
    payload = message(alert)
    header, facts, triage, context = payload["blocks"]
    assert header == {"type": "header", "text": {
        "type": "plain_text", "text": "AWS DynamoDB Backup Deleted", "emoji": False}}  # fmt: skip
    fields = [f["text"] for f in facts["fields"]]
    assert fields == [
        "*Severity*\nmedium (risk 47)",
        "*Actor*\n`dba-admin`",
        "*Action*\n`DeleteBackup`",
        "*Source*\n`72.21.198.66` (`US`)",
        "*Table*\n`Orders`",
        "*Account*\n`123456789012` in `us-east-1`",
        "*Events*\n2",
        f"*First*\n`{alert['event']['start']}`",
        f"*Last*\n`{alert['event']['end']}`",
    ]
    assert triage["text"]["type"] == "plain_text"
    assert triage["text"]["text"].startswith("First triage step: Who. Read user.name, ")
    links, ident = context["elements"]
    assert links["text"] == (
        "<https://attack.mitre.org/techniques/T1490/|T1490 Inhibit System Recovery>"
    )
    assert ident["text"] == f"trailhound alert `{alert['id']}`"
    assert payload["text"] == (
        "medium: AWS DynamoDB Backup Deleted by `dba-admin` on `Orders` from `72.21.198.66`"
    )
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False


def test_hostile_values_arrive_defused(receiver: Receiver, pack_alert: MakeAlert) -> None:
    alert = pack_alert(events=2, **HOSTILE)
    alert["investigation_fields"] = {"user_agent.original": [HOSTILE["agent"]]}
    assert deliver(slack(receiver), [alert]) == {alert["id"]: None}
    (request,) = receiver.requests()
    assert request["verdict"] == "ok"
    payload = request["json"]
    for kind, text in texts(payload):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert not re.search(r"@(here|channel|everyone)", text, re.IGNORECASE), text
        assert [m for m in re.findall(r"<[^>]*>?", text) if not ATTACK_LINK.fullmatch(m)] == []
        if kind == "mrkdwn":
            assert "ZZQ" not in outside_code(text), text
    shown = "\n".join(t for _, t in texts(payload))
    for marker in ("ZZQ1", "ZZQ2", "ZZQ3", "ZZQ5", "ZZQ6", "ZZQ7", "ZZQ8", "ZZQ9"):
        assert marker in shown  # defused, not dropped
    assert "`&lt;!channel&gt; ZZQ1 @\u200bhere @\u200beveryone *bold* _it_ ~strike~`" in shown
    assert "`&lt;https://evil.example|click ZZQ2&gt; \u02cbcode\u02cb ZZQ3 &amp;amp;`" in shown


def test_a_hostile_rule_is_defused_too(receiver: Receiver, pack_alert: MakeAlert) -> None:
    alert = pack_alert()
    alert["rule"]["name"] = "<!here> *Urgent* \x1b[2J" + "x" * 300
    alert["rule"]["threat"][0]["technique"].append(
        {"id": "T1485|<https://evil>", "name": "*Fake* <!channel>", "subtechnique": []}
    )
    alert["guide"] = "### Triage\n\n- <!channel> go to <https://evil|here> " + "y" * 5000
    assert deliver(slack(receiver), [alert]) == {alert["id"]: None}
    payload = receiver.requests()[0]["json"]
    header = payload["blocks"][0]["text"]["text"]
    assert header.startswith("&lt;!here&gt; *Urgent* \\x1b[2J") and len(header) <= 150
    for _, text in texts(payload):
        assert [m for m in re.findall(r"<[^>]*>?", text) if not ATTACK_LINK.fullmatch(m)] == []
        assert "\x1b" not in text
    assert "T1485|&lt;https://evil&gt; Fake &lt;!channel&gt;" in payload["blocks"][3][
        "elements"][0]["text"]  # fmt: skip


def test_long_and_many_values_stay_within_slack_limits(
    receiver: Receiver, pack_alert: MakeAlert
) -> None:
    alert = pack_alert(events=3, table="T" * 5000, user="&" * 3000)
    for n, document in enumerate(alert["evidence"]):
        document["source"]["ip"] = f"10.0.0.{n}"
    alert["investigation_fields"] = {"user.name": [f"user-{n}" for n in range(200)]}
    payload = message(alert)
    assert check_slack(payload) == ("", [])
    fields = {f["text"].split("\n")[0]: f["text"] for f in payload["blocks"][1]["fields"]}
    assert fields["*Table*"].endswith("…`") and len(fields["*Table*"]) <= 2000
    assert fields["*Actor*"].endswith("(+196 more)")
    assert "&amp;" in fields["*Actor*"] and "&am…" not in fields["*Actor*"]  # no cut entity
    assert deliver(slack(receiver), [alert]) == {alert["id"]: None}
    assert receiver.requests()[0]["verdict"] == "ok"


def test_the_receiver_refuses_what_slack_refuses() -> None:
    good = message({"id": "a", "rule": {"name": "r", "severity": "low"}})
    assert check_slack(good) == ("", [])
    too_long = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}
    assert check_slack(too_long)[0] == "invalid_blocks"
    fields = [{"type": "mrkdwn", "text": "x"}] * 11
    assert check_slack({"blocks": [{"type": "section", "fields": fields}]})[0] == "invalid_blocks"
    assert check_slack({"blocks": [{"type": "divider"}] * 51})[0] == "invalid_blocks"
    assert check_slack({"blocks": [{"type": "video"}]})[0] == "invalid_blocks"
    assert check_slack({"unfurl_links": False}) == ("no_text", ["neither text nor blocks"])


def test_escaping_helpers() -> None:
    assert escape("a & b < c > d", 100) == "a &amp; b &lt; c &gt; d"
    assert escape("@here @Channel x@everyone", 100) == (
        "@\u200bhere @\u200bChannel x@\u200beveryone")  # fmt: skip
    assert escape("\x1b[1m\u202e", 100) == "\\x1b[1m\\u202e"
    assert escape("&" * 10, 12) == "&amp;&amp;…"  # cut between entities, never inside one
    assert code("a`b*c*") == "`a\u02cbb*c*`"
    assert len(code("x" * 1000)) <= 300


def test_secrets_never_appear_in_reasons(receiver: Receiver, pack_alert: MakeAlert) -> None:
    alerts = [pack_alert(events=n) for n in (1, 2)]
    receiver.control(fail=1, status=403)
    got = deliver(slack(receiver), alerts)
    assert got[alerts[0]["id"]] == "chat: HTTP 403, not retried: the destination refused it"
    receiver.control(fail=100, status=500)
    got = deliver(slack(receiver, retry_attempts=2), alerts)
    assert got[alerts[0]["id"]] == "chat: HTTP 500 after 2 attempts"
    assert all(TOKEN not in (r or "") and "/slack/" not in (r or "") for r in got.values())


def test_options(monkeypatch: pytest.MonkeyPatch, pack_alert: MakeAlert) -> None:
    with pytest.raises(ConfigError) as caught:
        build_output("chat", {"type": "slack"})
    assert caught.value.where == "outputs.chat.url"
    with pytest.raises(ConfigError) as caught:
        build_output("chat", {"type": "slack", "url": f"hooks.slack.com/services/{TOKEN}"})
    assert TOKEN not in str(caught.value)
    monkeypatch.setenv("SLACK_URL", f"https://hooks.example/{TOKEN}")
    output = build_output("chat", {"type": "slack", "url_env": "SLACK_URL",
                                   "min_severity": "high"})  # fmt: skip
    assert output.name == "chat"
    assert output.wants(pack_alert("AWS DynamoDB Multiple Tables Deleted"))  # high
    assert not output.wants(pack_alert("AWS DynamoDB Backup Deleted"))  # medium
