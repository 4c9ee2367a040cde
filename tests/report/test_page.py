"""The page as a file: its policy allows exactly its own script and style, the embedded data is
inert, and nothing an attacker wrote becomes markup (checked by parsing the page)."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

import orjson
import pytest

from support.report_pages import HOSTILE, SVG_USER, AlertMaker, hostile_rule_alert
from trailhound.report import Scope, render_report
from trailhound.report.guide import render_guide
from trailhound.report.page import embedded_json, visible


class Parsed(HTMLParser):
    """Every element and attribute of a page, and the text of its scripts and styles."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self.text = ""  # what a reader sees: the text outside scripts and styles
        self._inside: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.raw:
            self._inside = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self.raw[self._inside][-1] += data
        else:
            self.text += data

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.fixture
def hostile_page(make_alert: AlertMaker) -> Parsed:
    alerts = [hostile_rule_alert(make_alert)] + [
        make_alert(actor=value, table=value, ip=value, account=value, region=value,
                   key={"user.name": value}, time=f"2026-03-07T08:{n:02d}:00.000Z")
        for n, value in enumerate(HOSTILE)
    ]  # fmt: skip
    return Parsed(render_report(alerts, scope=Scope.of_alerts(SVG_USER)))


def test_the_policy_allows_only_the_pages_own_script_and_style(make_alert: AlertMaker) -> None:
    page = Parsed(render_report([make_alert()]))
    metas = page.tags("meta")
    # the policy comes before anything it governs
    assert [tag for tag, _ in page.elements[:4]] == ["html", "head", "meta", "meta"]
    policy = metas[1]
    assert policy["http-equiv"] == "Content-Security-Policy"
    directives = dict(d.strip().split(" ", 1) for d in (policy["content"] or "").split(";"))
    script, style = page.raw["script"][1], page.raw["style"][0]
    assert directives == {
        "default-src": "'none'",
        "script-src": f"'{digest(script)}'",
        "style-src": f"'{digest(style)}'",
        "img-src": "data:",
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    # the data block is not a script the browser runs, and the only other one is hashed
    assert [s.get("type") for s in page.tags("script")] == ["application/json", None]
    assert not [attrs for _, attrs in page.elements if "style" in attrs]  # blocked if present


def test_embedded_json_cannot_end_its_element_and_reads_back_the_same() -> None:
    value = {"ua": "</script><script>alert(1)</script>", "sep": "\u2028\u2029", "amp": "&<>"}
    text = embedded_json(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert orjson.loads(text) == value


def test_hostile_values_never_become_markup(hostile_page: Parsed) -> None:
    allowed = {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p",
        "section", "dl", "div", "dt", "dd", "span", "br", "ul", "ol", "li", "details", "summary",
        "svg", "line", "text", "g", "rect", "circle", "table", "tr", "td", "th", "time",
        "strong", "button", "form", "fieldset", "legend", "label", "input", "select", "option",
        "noscript", "main", "footer", "script", "a", "code", "em",
    }  # fmt: skip
    assert {tag for tag, _ in hostile_page.elements} <= allowed
    for tag, attrs in hostile_page.elements:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    links = [link["href"] or "" for link in hostile_page.tags("a")]
    assert links and all(re.match(r"https://", href) for href in links)  # no javascript:
    assert len(hostile_page.tags("script")) == 2


def test_hostile_values_show_as_text_with_bidi_controls_visible(hostile_page: Parsed) -> None:
    text = hostile_page.text
    assert "\u202e" not in text and "\u2028" not in text
    for value in HOSTILE:
        assert visible(value) in text
    assert "<svg onload=alert(2)>admin\\u202egnp.exe" in text
    assert "<img src=x onerror=alert('rule')>" in text  # the hostile rule's name


def test_the_data_block_holds_every_hostile_value_unchanged(hostile_page: Parsed) -> None:
    data: dict[str, Any] = orjson.loads(hostile_page.raw["script"][0])
    actors = {actor for alert in data["alerts"] for actor in alert["u"]}
    assert set(HOSTILE) <= actors


def test_a_guide_renders_markdown_but_no_html_images_or_script_links() -> None:
    html = render_guide(
        "## Triage\n\n- <script>alert(1)</script> **bold** `code`\n"
        "- [bad](javascript:alert(2)) [good](https://docs.aws.amazon.com/x)\n"
        "- ![beacon](https://example.com/b.png)\n\n<iframe src=https://example.com></iframe>\n"
    )
    parsed = Parsed(str(html))
    assert {tag for tag, _ in parsed.elements} == {"h2", "ul", "li", "strong", "code", "a", "p"}
    # the image is left as a plain link, which loads nothing until someone follows it
    assert parsed.tags("a") == [
        {"href": "https://docs.aws.amazon.com/x"},
        {"href": "https://example.com/b.png"},
    ]
    assert "[bad](javascript:alert(2))" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;iframe" in html


def test_a_report_of_no_alerts_says_so() -> None:
    page = render_report([])
    assert "No events and no alerts: nothing to draw." in page
    assert "No alerts." in page
