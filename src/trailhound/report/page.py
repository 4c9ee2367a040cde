"""The report as one HTML file: the template rendered with Jinja2 (autoescaped), the style and
the script inlined and allowed by their hashes in a Content-Security-Policy, and the alerts the
script filters embedded as inert JSON.

Every value from CloudTrail reaches the page one of two ways, both as text: through Jinja's
escaping, or through the embedded JSON, which the script only ever puts in the page with
`textContent`. The policy is the second wall: no script or style but these two, no request of
any kind (`default-src 'none'`), images only from `data:`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from trailhound.alerts.summary import headline
from trailhound.escaping import printable
from trailhound.report.gather import SEVERITIES, UNRATED, AlertView, ReportData
from trailhound.report.guide import render_guide
from trailhound.report.timeline import draw

# The page's script makes the same characters visible as `trailhound.escaping` (report.js).
_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def render_page(data: ReportData) -> str:
    """The whole report page."""
    style, script = _asset("report.css"), _asset("report.js")
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src '{_digest(script)}'",
            f"style-src '{_digest(style)}'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        timeline=draw(data),
        severities=(*SEVERITIES, UNRATED),
        guides={rule.index: render_guide(rule.guide) for rule in data.rules if rule.guide},
        options=_options(data),
        policy=policy,
        style=Markup(style),
        script=Markup(script),
        payload=Markup(embedded_json(page_data(data))),
    )


def embedded_json(value: Any) -> str:
    """JSON that can sit inside a `<script type="application/json">` element: no `<` can
    close the element or open a comment, and nothing in it means anything to an HTML parser.
    Those characters only occur inside JSON strings, where the escapes mean the same."""
    return orjson.dumps(value).decode().translate(_JSON_ESCAPES)


def page_data(data: ReportData) -> dict[str, Any]:
    """What the page's script needs: per rule its name, severity and techniques; per alert the
    facts its card shows and the filters and the search read. Short keys, as a report may
    hold tens of thousands of alerts (the script names each)."""
    return {
        "rules": [
            {
                "name": rule.name,
                "severity": rule.severity,
                "techniques": [[t.id, t.name, t.reference] for t in rule.techniques],
                "guide": rule.index if rule.guide else None,
            }
            for rule in data.rules
        ],
        "alerts": [_alert(view) for view in data.alerts],
    }


def _alert(view: AlertView) -> dict[str, Any]:
    s = view.summary
    key = view.alert.get("key")
    evidence = view.alert.get("evidence")
    return {
        "id": s.alert_id,
        "t": _when(view.time),
        "s": view.severity,
        "r": view.rule,
        "h": headline(s),
        "u": s.actors,
        "ip": s.sources,
        "cc": s.countries,
        "net": view.networks,
        "tb": s.tables,
        "ac": s.accounts,
        "rg": s.regions,
        "act": s.actions,
        "ua": view.user_agents,
        "n": s.count,
        "f": s.first,
        "l": s.last,
        "k": [[str(f), v] for f, v in key.items()] if isinstance(key, Mapping) else [],
        "ev": evidence if isinstance(evidence, list) else [],
    }


def _options(data: ReportData) -> dict[str, list[str]]:
    """The values the account and actor filters offer, as the alerts name them."""
    accounts: dict[str, None] = {}
    actors: dict[str, None] = {}
    for view in data.alerts:
        accounts.update(dict.fromkeys(view.summary.accounts))
        actors.update(dict.fromkeys(view.summary.actors))
    return {"accounts": sorted(accounts), "actors": sorted(actors, key=str.lower)}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("trailhound.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible
    env.filters["when"] = _when
    env.filters["minute"] = _minute
    env.filters["number"] = "{:,}".format
    env.filters["span"] = _span
    return env


@cache
def _asset(name: str) -> str:
    text = resources.files("trailhound.report").joinpath("templates", name).read_text("utf-8")
    # inlined as they are: neither may end its own element early
    assert "</" not in text, f"{name} must not hold '</'"
    return text


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def visible(value: object) -> str:
    """Control and bidirectional characters made visible (`\\u202e`): a right-to-left
    override in a table name must not reverse the text after it."""
    return printable(value, None)


def _moment(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _when(us: int) -> str:
    return _moment(us).strftime("%Y-%m-%d %H:%M:%S")


def _minute(us: int) -> str:
    return _moment(us).strftime("%Y-%m-%d %H:%M")


def _span(us: int) -> str:
    """A length of time in the largest unit that fits it whole."""
    minutes = us // 60_000_000
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{minutes} minutes"
