"""Slack: one Block Kit message per alert, through an incoming webhook.

Options: `url` / `url_env` / `url_file` (the webhook URL, a secret), `min_severity`, and the
retry options of `trailhound.outputs.http`.

Everything in an alert may come from an attacker: a user name or table name could read
`<!channel>`, `@here`, `<https://evil|click here>` or `*urgent*`. Slack reads `&`, `<` and
`>` as control characters in every text object, so those are always escaped; `@here`-like
words get a zero-width space after the `@`; values in mrkdwn text sit in code spans, where
Slack applies no formatting, links or mentions (a backtick in a value, which would end the
span, is replaced by a lookalike); control and bidi characters are shown as escapes. Text
from the rule (its name, the triage step) goes in plain_text objects where it can.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from trailhound.alerts.summary import AlertSummary, Technique, summarize
from trailhound.escaping import printable
from trailhound.outputs.base import min_severity, secret
from trailhound.outputs.http import HttpOutput, Request, RetryPolicy, check_url

# Slack's published limits for the blocks used here
HEADER_TEXT = 150
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
CONTEXT_ELEMENTS = 10
BLOCKS = 50
FALLBACK_TEXT = 3000  # Slack takes far more; a notification shows a line or two

VALUE_TEXT = 300  # one value, escaped: a field holds a few of them
VALUES_SHOWN = 5

ZWSP = "\u200b"
_MENTION = re.compile(r"@(?=here|channel|everyone)", re.IGNORECASE)
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_FORMATTING = str.maketrans("", "", "*_~`")
_BACKTICK = "\u02cb"  # modifier letter grave accent: looks like a backtick, ends no code span


class SlackOutput(HttpOutput):
    """Posts each alert to a Slack incoming webhook."""

    def __init__(self, name: str, url: str, policy: RetryPolicy, min_rank: int) -> None:
        super().__init__(name, policy, min_rank)
        self._url = url  # a secret: never in a reason or an error

    def request(self, alert: Mapping[str, Any]) -> Request:
        body = orjson.dumps(message(alert))
        return self._url, body, {"Content-Type": "application/json; charset=utf-8"}


def build(name: str, options: Mapping[str, Any]) -> SlackOutput:
    """The Slack output `name` from its options; ConfigError names a bad option."""
    url = secret(name, options, "url", required=True)
    assert url is not None  # required=True either returns a value or raises
    check_url(name, "url", url)
    return SlackOutput(name, url, RetryPolicy.from_options(name, options),
                       min_severity(name, options))  # fmt: skip


def message(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The Slack message for an alert: a fallback text for notifications and the blocks."""
    summary = summarize(alert)
    blocks: list[dict[str, Any]] = [_header(summary), _facts(summary)]
    if summary.first_step:
        blocks.append(_triage(summary.first_step))
    blocks.append(_context(summary))
    return {
        "text": _fallback(summary),
        "blocks": blocks[:BLOCKS],
        # an attacker's URL must not unfurl into a preview either
        "unfurl_links": False,
        "unfurl_media": False,
    }


def escape(value: object, limit: int) -> str:
    """Text for any Slack text object: printable, `&<>` escaped, `@here`-like words defused,
    at most `limit` UTF-16 units (what Slack counts) once escaped, entities never cut."""
    raw = _MENTION.sub("@" + ZWSP, printable(value, 1_000_000))
    return _clip_escaped(raw, limit)


def code(value: object, limit: int = VALUE_TEXT) -> str:
    """A value as a mrkdwn code span: shown verbatim, never formatted, linked or mentioned."""
    return "`" + escape(str(value).replace("`", _BACKTICK), limit - 2) + "`"


def prose(value: object, limit: int) -> str:
    """Text from a rule for mrkdwn (a name, a severity): escaped, with mrkdwn's formatting
    characters dropped, as such text has no use for them."""
    return escape(str(value).translate(_FORMATTING), limit)


def _clip_escaped(raw: str, limit: int) -> str:
    out: list[str] = []
    used = 0
    for char in raw:
        piece = _ENTITIES.get(char, char)
        if used + _units(piece) > limit:
            while out and used > limit - 1:  # make room for the ellipsis
                used -= _units(out.pop())
            return "".join(out) + "…"
        out.append(piece)
        used += _units(piece)
    return "".join(out)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _header(summary: AlertSummary) -> dict[str, Any]:
    title = escape(summary.rule_name or "trailhound alert", HEADER_TEXT)
    return {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}}


def _facts(summary: AlertSummary) -> dict[str, Any]:
    severity = prose(summary.severity or "unknown", 100)
    if summary.risk_score is not None:
        severity += f" (risk {summary.risk_score})"
    fields = [
        _field("Severity", severity),
        _field("Actor", _values(summary.actors)),
        _field("Action", _values(summary.actions)),
        _field("Source", _source(summary)),
        _field("Table", _values(summary.tables)),
        _field("Account", _account(summary)),
        _field("Events", str(summary.count)),
        _field("First", _values([summary.first] if summary.first else [])),
        _field("Last", _values([summary.last] if summary.last else [])),
    ]
    shown = [f for f in fields if f is not None][:FIELDS]
    return {"type": "section", "fields": shown}


def _field(label: str, value: str) -> dict[str, str] | None:
    """A mrkdwn field "*Label*\\nvalue"; None when there is no value to show."""
    if not value:
        return None
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def _values(values: Sequence[str], limit: int = FIELD_TEXT - 40) -> str:
    """Code spans joined by commas, as many as fit in `limit`, then how many more there are."""
    shown: list[str] = []
    used = 0
    for value in values[:VALUES_SHOWN]:
        piece = code(value)
        if used + _units(piece) + 2 > limit - 12:  # room for ", " and " (+N more)"
            break
        shown.append(piece)
        used += _units(piece) + 2
    text = ", ".join(shown)
    rest = len(values) - len(shown)
    return text + (f" (+{rest} more)" if rest and shown else "")


def _source(summary: AlertSummary) -> str:
    addresses = _values(summary.sources, FIELD_TEXT // 2)
    countries = _values(summary.countries, FIELD_TEXT // 4)
    if addresses and countries:
        return f"{addresses} ({countries})"
    return addresses or countries


def _account(summary: AlertSummary) -> str:
    accounts = _values(summary.accounts, FIELD_TEXT // 2)
    regions = _values(summary.regions, FIELD_TEXT // 4)
    if accounts and regions:
        return f"{accounts} in {regions}"
    return accounts or regions


def _triage(step: str) -> dict[str, Any]:
    # plain_text: the guide's words stay words, whatever characters they hold
    text = escape(f"First triage step: {step}", SECTION_TEXT)
    return {"type": "section", "text": {"type": "plain_text", "text": text, "emoji": False}}


def _context(summary: AlertSummary) -> dict[str, Any]:
    elements: list[dict[str, str]] = []
    links = [_technique_link(t) for t in summary.techniques[: VALUES_SHOWN * 2]]
    if links:
        elements.append({"type": "mrkdwn", "text": _joined_within(links, SECTION_TEXT)})
    alert = f"trailhound alert {code(summary.alert_id or 'unknown', 100)}"
    elements.append({"type": "mrkdwn", "text": alert})
    return {"type": "context", "elements": elements[:CONTEXT_ELEMENTS]}


def _technique_link(technique: Technique) -> str:
    label = prose(f"{technique.id} {technique.name}".strip(), 200)
    if not technique.reference:  # not a technique id: no link made from a rule's text
        return label
    return f"<{technique.reference}|{label}>"


def _joined_within(pieces: Sequence[str], limit: int) -> str:
    text = ""
    for piece in pieces:
        candidate = f"{text} · {piece}" if text else piece
        if _units(candidate) > limit:
            break
        text = candidate
    return text


def _fallback(summary: AlertSummary) -> str:
    """The notification text: severity, rule, who and which table, values in code spans."""
    parts = [f"{prose(summary.severity or 'unknown', 50)}: {prose(summary.rule_name, 300)}"]
    if summary.actors:
        parts.append(f"by {_values(summary.actors, 700)}")
    if summary.tables:
        parts.append(f"on {_values(summary.tables, 700)}")
    if summary.sources:
        parts.append(f"from {_values(summary.sources, 700)}")
    # each part is bounded, so the whole is within FALLBACK_TEXT without cutting a span
    return " ".join(parts)
