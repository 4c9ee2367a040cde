"""The report in a real browser (headless Chromium, opened from file://): the timeline has a mark
per alert, the filters and the search change what is shown, and hostile values do nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from support.report_pages import (
    HOSTILE,
    SCRIPT_UA,
    AlertMaker,
    Opened,
    hostile_records,
    hostile_rule_alert,
    write_jsonl,
)
from trailhound.cli import main
from trailhound.report.page import visible

Open = Callable[[Path], Opened]


def embedded(page: Path) -> dict[str, Any]:
    found = re.search(r'id="report-data">(.*?)</script>', page.read_text(), re.S)
    assert found is not None
    data: dict[str, Any] = orjson.loads(found.group(1))
    return data


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """`trailhound demo --report`, and how many alerts the demo's answer key holds."""
    page = tmp_path_factory.mktemp("demo") / "demo.html"
    outcome = CliRunner().invoke(main, ["demo", "--report", str(page)])
    assert outcome.exit_code == 0, outcome.output
    key = re.search(r"All (\d+) alerts of the answer key were found", outcome.output)
    assert key is not None, outcome.output
    return page, int(key.group(1))


def show_all(opened: Opened) -> None:
    while opened.js("!document.getElementById('more').hidden"):
        opened.page.click("#more")


def listed_ids(opened: Opened) -> list[str]:
    return list(
        opened.js("[...document.querySelectorAll('#alert-list article')].map(a => a.dataset.id)")
    )


def test_every_demo_alert_is_on_the_timeline_and_in_the_list(
    demo_report: tuple[Path, int], open_report: Open
) -> None:
    page, answer_key = demo_report
    data = embedded(page)
    assert len(data["alerts"]) == answer_key
    opened = open_report(page)
    assert opened.page.url.startswith("file://")
    assert (
        opened.js("document.querySelectorAll('#timeline-chart circle.mark').length") == answer_key
    )
    marks = opened.js(
        "[...document.querySelectorAll('#timeline-chart .mark')].map(m => +m.dataset.i)"
    )
    assert sorted(marks) == list(range(answer_key))
    # each mark sits inside the drawing, at a point the browser laid out
    box = opened.js(
        "(() => { const r = document.getElementById('timeline-chart').getBoundingClientRect();"
        " return [...document.querySelectorAll('.mark')].every(m => { const b ="
        " m.getBoundingClientRect(); return b.width > 0 && b.left >= r.left && b.right <= r.right"
        " && b.top >= r.top && b.bottom <= r.bottom; }); })()"
    )
    assert box is True
    assert opened.lit_marks() == answer_key
    show_all(opened)
    ids = listed_ids(opened)
    assert len(ids) == answer_key
    assert set(ids) == {a["id"] for a in data["alerts"]}
    assert opened.matching() == f"{answer_key:,} alerts"
    assert opened.errors == [] and opened.dialogs == []


def test_filters_and_search_change_what_is_shown(
    demo_report: tuple[Path, int], open_report: Open
) -> None:
    page, _ = demo_report
    alerts = embedded(page)["alerts"]
    opened = open_report(page)
    view = opened.page

    def check(expected: list[dict[str, Any]]) -> None:
        assert opened.lit_marks() == len(expected)
        show_all(opened)
        assert sorted(listed_ids(opened)) == sorted(a["id"] for a in expected)

    view.uncheck("input[name=severity][value=low]")
    check([a for a in alerts if a["s"] != "low"])
    assert opened.matching().endswith(f"of {len(alerts) - sum(a['s'] == 'low' for a in alerts)} "
                                      f"matching alerts ({len(alerts)} in all)")  # fmt: skip
    view.click("button[type=reset]")
    check(alerts)

    high = next(a for a in alerts if a["s"] == "high")
    view.select_option("select[name=rule]", str(high["r"]))
    check([a for a in alerts if a["r"] == high["r"]])
    view.select_option("select[name=rule]", "")

    intruder = high["u"][0]
    view.select_option("select[name=actor]", intruder)
    check([a for a in alerts if intruder in a["u"]])
    account = high["ac"][0]
    view.select_option("select[name=account]", account)
    check([a for a in alerts if intruder in a["u"] and account in a["ac"]])
    view.click("button[type=reset]")

    source = high["ip"][0]
    view.fill("input[name=q]", f"  {source.upper()}  DeleteTable ")  # any case, every word
    view.press("input[name=q]", "Enter")
    check([a for a in alerts if source in a["ip"] and "DeleteTable" in a["act"]])
    view.fill("input[name=q]", "no such thing anywhere")
    view.wait_for_timeout(400)  # the search runs once typing pauses
    assert listed_ids(opened) == []
    assert opened.lit_marks() == 0
    assert opened.errors == []


def test_a_mark_and_a_story_lead_to_their_alerts(
    demo_report: tuple[Path, int], open_report: Open
) -> None:
    page, _ = demo_report
    alerts = embedded(page)["alerts"]
    opened = open_report(page)
    last_high = max(i for i, a in enumerate(alerts) if a["s"] == "high")
    opened.page.dispatch_event(f"#timeline-chart .mark[data-i='{last_high}']", "click")
    assert listed_ids(opened) == [alerts[last_high]["id"]]
    card = opened.page.locator("#alert-list article > details")
    assert card.evaluate("d => d.open") is True
    body = card.inner_text()
    assert "Evidence" in body and "Investigation guide" in body
    assert opened.js(
        "document.querySelector('#alert-list a[href^=\"https://attack.mitre.org/\"]') !== null"
    )

    first_story = opened.page.locator("details.story button.show-actor").first
    actor = first_story.get_attribute("data-actor")
    first_story.click()
    assert opened.js("document.querySelector('select[name=actor]').value") == actor
    show_all(opened)
    assert sorted(listed_ids(opened)) == sorted(a["id"] for a in alerts if actor in a["u"])


def test_hostile_values_do_not_execute_or_leave_the_page(
    tmp_path: Path, open_report: Open, make_alert: AlertMaker
) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    (trail / "records.json").write_bytes(orjson.dumps({"Records": hostile_records()}))
    scanned = tmp_path / "alerts.jsonl"
    outcome = CliRunner().invoke(main, ["scan", str(trail), "--no-state", "-o", str(scanned)])
    assert outcome.exit_code == 1, outcome.output
    alerts = [orjson.loads(line) for line in scanned.read_bytes().splitlines()]
    alerts.append(hostile_rule_alert(make_alert))
    page = tmp_path / "hostile.html"
    outcome = CliRunner().invoke(
        main, ["report", str(write_jsonl(scanned, alerts)), "-o", str(page)]
    )
    assert outcome.exit_code == 0, outcome.output

    opened = open_report(page)
    show_all(opened)
    # every lazily built part too: each card, each raw JSON, each guide
    opened.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    opened.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    opened.page.hover("#timeline-chart .mark")
    opened.page.wait_for_timeout(300)  # time for an injected handler or a load to fire

    assert opened.dialogs == []
    assert opened.requests == [opened.url]  # the page itself, nothing else
    assert opened.errors == []
    counts = opened.js(
        "({img: document.images.length, iframe: document.querySelectorAll('iframe').length,"
        " script: document.scripts.length, style: document.querySelectorAll('style').length,"
        " handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some("
        "a => a.name.startsWith('on'))).length,"
        " jsLinks: [...document.links].filter(a => !a.href.startsWith('https://')).length,"
        " hidden: getComputedStyle(document.body).display})"
    )
    assert counts == {"img": 0, "iframe": 0, "script": 2, "style": 1, "handlers": 0,
                      "jsLinks": 0, "hidden": "block"}  # fmt: skip
    text = opened.js("document.body.innerText")
    assert "\u202e" not in text
    for value in HOSTILE:
        assert visible(value) in text, value
    assert SCRIPT_UA in text  # the user agent, shown as what it is
