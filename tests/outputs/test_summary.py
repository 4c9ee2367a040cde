"""An alert dict summarised: the facts outputs lead with, found however the fields are shaped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trailhound.alerts.summary import (
    first_triage_step,
    headline,
    lookup,
    strip_markdown,
    summarize,
    technique_url,
    techniques,
)

MakeAlert = Callable[..., dict[str, Any]]


def test_a_pack_alert_summarises_to_its_leading_facts(pack_alert: MakeAlert) -> None:
    alert = pack_alert("AWS DynamoDB Backup Deleted", events=2, action="DeleteBackup")
    summary = summarize(alert)
    assert summary.alert_id == alert["id"]
    assert summary.timestamp == alert["@timestamp"]
    assert (summary.rule_name, summary.severity, summary.risk_score) == (
        "AWS DynamoDB Backup Deleted", "medium", 47)  # fmt: skip
    assert summary.actors == ("dba-admin",)
    assert summary.sources == ("72.21.198.66",)  # source.ip and source.address agree
    assert summary.countries == ("US",)
    assert summary.tables == ("Orders",)
    assert summary.accounts == ("123456789012",)
    assert summary.regions == ("us-east-1",)
    assert summary.actions == ("DeleteBackup",)
    assert summary.count == 2
    assert (summary.first, summary.last) == (alert["event"]["start"], alert["event"]["end"])
    assert summary.first_step is not None
    assert summary.first_step.startswith(
        "Who. Read user.name, aws.cloudtrail.user_identity.arn and "
        "aws.cloudtrail.user_identity.type. A person, a retention job"
    )
    assert "**" not in summary.first_step and "`" not in summary.first_step
    assert [(t.id, t.name, t.reference) for t in summary.techniques] == [
        ("T1490", "Inhibit System Recovery", "https://attack.mitre.org/techniques/T1490/")
    ]


def test_every_shipped_rule_has_a_first_triage_step(
    pack_alert: MakeAlert, pack_rule_names: list[str]
) -> None:
    for name in pack_rule_names:
        step = summarize(pack_alert(name)).first_step
        assert step, name
        assert "**" not in step and "`" not in step and "\n" not in step, name


def test_subtechniques_stand_for_their_technique_with_their_own_page() -> None:
    threat = [{
        "framework": "MITRE ATT&CK",
        "tactic": {"id": "TA0005", "name": "Defense Evasion"},
        "technique": [
            {"id": "T1562", "name": "Impair Defenses",
             "subtechnique": [{"id": "T1562.008", "name": "Disable or Modify Cloud Logs"}]},
            {"id": "T1485", "name": "Data Destruction", "subtechnique": []},
        ],
    }]  # fmt: skip
    found = techniques(threat)
    assert [(t.id, t.reference) for t in found] == [
        ("T1562.008", "https://attack.mitre.org/techniques/T1562/008/"),
        ("T1485", "https://attack.mitre.org/techniques/T1485/"),
    ]


def test_only_technique_ids_become_links() -> None:
    assert technique_url("T1485") == "https://attack.mitre.org/techniques/T1485/"
    assert technique_url("T1485/../../evil") == ""
    assert technique_url("javascript:alert(1)") == ""


def test_values_come_from_key_then_evidence_distinct_in_order() -> None:
    alert = {
        "key": {"user.name": "bob", "cloud.account.id": "111"},
        "evidence": [
            {"user": {"name": "alice"}, "cloud": {"account.id": "222"}},
            {"user.name": "bob", "cloud.account.id": "333"},
            {"user": {"name": ["carol", None]}, "cloud": {"account": {"id": "111"}}},
        ],
        "investigation_fields": {"user.name": ["alice", "dave"]},
    }
    summary = summarize(alert)
    assert summary.actors == ("bob", "alice", "carol", "dave")
    assert summary.accounts == ("111", "222", "333")


def test_lookup_finds_a_field_however_its_keys_are_split() -> None:
    document = {"a": {"b.c": 1, "b": {"c": 2}}, "a.b": {"c": 3}, "a.b.c": [4, {"x": 5}]}
    assert sorted(lookup(document, ["a", "b", "c"])) == ["1", "2", "3", "4"]
    assert lookup({"a": "scalar"}, ["a", "b"]) == []


def test_a_malformed_alert_gives_an_empty_summary_not_an_error() -> None:
    for broken in ({}, {"rule": "x", "event": 3, "evidence": "no", "key": None, "count": "9"}):
        summary = summarize(broken)
        assert summary.rule_name == "" and summary.count == 0 and summary.actors == ()
        assert summary.first_step is None and summary.techniques == ()


def test_headline_says_who_did_what_where(pack_alert: MakeAlert) -> None:
    summary = summarize(pack_alert(events=3, user="eve", table="Invoices", country="RU"))
    assert headline(summary) == (
        "eve called DeleteTable on Invoices from 72.21.198.66 (RU); 3 events"
    )
    assert headline(summarize({})) == "unknown principal called ?"


def test_first_triage_step_is_the_first_bullet_under_the_triage_heading() -> None:
    guide = (
        "## Triage and analysis\n\n- not this one\n\n### Triage\n\n"
        "Some words first.\n\n"
        "- **Who.** Read `user.name` and [the docs](https://example.com/x_y).\n"
        "  It goes *on* here, with __more__ and a\\_literal.\n"
        "- the second bullet\n\n### Response\n\n- no\n"
    )
    assert first_triage_step(guide) == (
        "Who. Read user.name and the docs. It goes on here, with more and a_literal."
    )
    assert first_triage_step("### Triage\n\nNo bullets.\n\n### Next\n\n- other") is None
    assert first_triage_step("## Investigating\n\n- a bullet") is None
    assert first_triage_step(None) is None


def test_markdown_inside_code_spans_is_kept_verbatim() -> None:
    assert strip_markdown("see `a_b*c*` and *this*") == "see a_b*c* and this"
    assert strip_markdown("snake_case_name stays") == "snake_case_name stays"
