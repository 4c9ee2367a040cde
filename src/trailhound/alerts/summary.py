"""What an alert says, in a few fields: the facts a chat message or a page leads with.

Outputs receive alerts as the JSON objects the ledger stored (`Alert.to_dict()`), so this works
on that dict, never on a live `Alert`: a pending alert from an earlier run summarises exactly
like a new one. Values are returned as they are; every one of them may come from an attacker
(user names, table names), so each output escapes them for its own destination.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ATTACK_URL = "https://attack.mitre.org/techniques/"
_TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?")


@dataclass(frozen=True, slots=True)
class Technique:
    """An ATT&CK technique or subtechnique named by the alert's rule."""

    id: str  # T1485, or T1562.008 for a subtechnique
    name: str
    reference: str  # its page on attack.mitre.org; "" when the id is not a technique id


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """The leading facts of one alert. Tuples hold distinct values in first-seen order."""

    alert_id: str
    timestamp: str
    rule_id: str
    rule_name: str
    severity: str
    risk_score: int | None
    actors: tuple[str, ...]  # user.name
    sources: tuple[str, ...]  # source.ip, then source.address
    countries: tuple[str, ...]  # source.geo.country_iso_code
    tables: tuple[str, ...]  # aws.dynamodb.table_name
    accounts: tuple[str, ...]  # cloud.account.id
    regions: tuple[str, ...]  # cloud.region
    actions: tuple[str, ...]  # event.action
    count: int
    first: str | None  # event.start
    last: str | None  # event.end
    first_step: str | None  # the first bullet under the guide's "Triage" heading, as text
    techniques: tuple[Technique, ...]


def summarize(alert: Mapping[str, Any]) -> AlertSummary:
    """The summary of an alert dict; missing or malformed parts give empty values, not errors,
    since a summary must never stop an alert from being delivered."""
    rule = _mapping(alert.get("rule"))
    event = _mapping(alert.get("event"))
    risk = rule.get("risk_score")
    count = alert.get("count")

    def values(*fields: str) -> tuple[str, ...]:
        return field_values(alert, *fields)

    return AlertSummary(
        alert_id=_text(alert.get("id")),
        timestamp=_text(alert.get("@timestamp")),
        rule_id=_text(rule.get("id")),
        rule_name=_text(rule.get("name")),
        severity=_text(rule.get("severity")),
        risk_score=risk if isinstance(risk, int) and not isinstance(risk, bool) else None,
        actors=values("user.name"),
        sources=values("source.ip", "source.address"),
        countries=values("source.geo.country_iso_code"),
        tables=values("aws.dynamodb.table_name"),
        accounts=values("cloud.account.id"),
        regions=values("cloud.region"),
        actions=values("event.action"),
        count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        first=_optional_text(event.get("start")),
        last=_optional_text(event.get("end")),
        first_step=first_triage_step(alert.get("guide")),
        techniques=techniques(rule.get("threat")),
    )


def headline(summary: AlertSummary) -> str:
    """One line, as a person would say it: who did what to which table, from where.

    Plain text, values unescaped: a caller escapes it for its destination.
    """
    who = _joined(summary.actors) or "unknown principal"
    line = f"{who} called {_joined(summary.actions) or '?'}"
    if summary.tables:
        line += f" on {_joined(summary.tables)}"
    if summary.sources:
        line += f" from {_joined(summary.sources)}"
        if summary.countries:
            line += f" ({_joined(summary.countries)})"
    if summary.count > 1:
        line += f"; {summary.count} events"
    return line


def field_values(alert: Mapping[str, Any], *fields: str) -> tuple[str, ...]:
    """Distinct values of dotted ECS fields, from the alert's key, then its evidence documents,
    then its investigation fields (which cover all of the evidence, not only the first few
    documents kept). Documents may nest (`{"user": {"name": ..}}`) or use dotted keys."""
    key = _mapping(alert.get("key"))
    evidence = alert.get("evidence")
    documents = evidence if isinstance(evidence, list) else []
    investigation = _mapping(alert.get("investigation_fields"))
    found: dict[str, None] = {}
    for field in fields:
        found.update(dict.fromkeys(_scalars(key.get(field))))
    for field in fields:
        parts = field.split(".")
        for document in documents:
            found.update(dict.fromkeys(lookup(document, parts)))
    for field in fields:
        found.update(dict.fromkeys(_scalars(investigation.get(field))))
    return tuple(found)


def lookup(node: Any, parts: Sequence[str]) -> list[str]:
    """The scalar values at a dotted path in a document, whichever way its keys are split:
    `a.b.c` is found under {"a": {"b": {"c"}}}, {"a.b": {"c"}}, {"a": {"b.c"}} or {"a.b.c"}."""
    if not parts:
        return _scalars(node)
    if isinstance(node, list):
        return [value for item in node for value in lookup(item, parts)]
    if not isinstance(node, Mapping):
        return []
    found: list[str] = []
    for cut in range(1, len(parts) + 1):
        head = ".".join(parts[:cut])
        if head in node:
            found += lookup(node[head], parts[cut:])
    return found


def techniques(threats: Any) -> tuple[Technique, ...]:
    """The ATT&CK techniques of a rule's `threat` list: a technique's subtechniques stand for
    it when it has any (they are the more precise claim), else the technique itself."""
    found: dict[str, Technique] = {}
    for threat in threats if isinstance(threats, list) else []:
        for technique in _list(_mapping(threat).get("technique")):
            subs = [_mapping(s) for s in _list(_mapping(technique).get("subtechnique"))]
            for item in subs or [_mapping(technique)]:
                made = _technique(item)
                if made is not None:
                    found.setdefault(made.id, made)
    return tuple(found.values())


def technique_url(technique_id: str) -> str:
    """`T1485` -> .../techniques/T1485/, `T1562.008` -> .../techniques/T1562/008/; "" for
    anything else, so that no text from a rule file becomes a link."""
    if not _TECHNIQUE_ID.fullmatch(technique_id):
        return ""
    return ATTACK_URL + technique_id.replace(".", "/") + "/"


def first_triage_step(guide: Any) -> str | None:
    """The first bullet under a heading that reads "Triage" (the shipped rules' `### Triage`),
    with its continuation lines, as plain text; None when there is none."""
    if not isinstance(guide, str):
        return None
    lines = guide.splitlines()
    start = next((i for i, line in enumerate(lines) if _TRIAGE.match(line)), None)
    if start is None:
        return None
    bullet: list[str] = []
    for line in lines[start + 1 :]:
        if _HEADING.match(line):
            break
        item = _BULLET.match(line)
        if item and bullet:
            break  # the next bullet: the first one is complete
        if item:
            bullet.append(item.group(1))
        elif bullet and not line.strip():
            break  # a blank line ends a list item's paragraph
        elif bullet:
            bullet.append(line.strip())
    text = strip_markdown(" ".join(bullet))
    return text or None


def strip_markdown(text: str) -> str:
    """Markdown inline markup removed, keeping the words: code spans keep their content
    verbatim, links keep their text, emphasis marks and backslash escapes go."""
    parts = _CODE_SPAN.split(text)
    # split() with one group puts code span contents at the odd indexes
    plain = [part if i % 2 else _strip_inline(part) for i, part in enumerate(parts)]
    return " ".join("".join(plain).split())


_TRIAGE = re.compile(r"^\s{0,3}#{1,6}\s+triage\s*#*\s*$", re.IGNORECASE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s|$)")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_CODE_SPAN = re.compile(r"`+([^`]*)`+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]*)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"  # *emphasis*
    r"|(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"  # _emphasis_, but not snake_case
)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>~|])")


def _strip_inline(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
    text = _STRIKE.sub(r"\1", text)
    return _ESCAPE.sub(r"\1", text)


def _technique(item: Mapping[str, Any]) -> Technique | None:
    technique_id = _text(item.get("id")).strip()
    if not technique_id:
        return None
    return Technique(technique_id, _text(item.get("name")), technique_url(technique_id))


def _scalars(node: Any) -> list[str]:
    """The values at a leaf, as text; an empty string says nothing, so it is left out."""
    items = node if isinstance(node, list) else [node]
    texts = [str(i) for i in items if i is not None and not isinstance(i, Mapping | list)]
    return [text for text in texts if text]


def _joined(values: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(values[:most])
    return shown + (f" (+{len(values) - most})" if len(values) > most else "")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)
