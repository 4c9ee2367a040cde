"""Attacker-controlled text is shown as data on a terminal."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from support.events import event, run
from support.rules import action, rule
from trailhound.alerts.render import alerts_table, describe, printable


def test_control_and_bidi_characters_are_made_visible() -> None:
    assert printable("evil\x1b[31mred\x07") == "evil\\x1b[31mred\\x07"
    assert printable("abc\u202etxt.exe") == "abc\\u202etxt.exe"


def test_table_names_with_markup_and_escapes_are_printed_literally() -> None:
    hostile = "[bold red]orders[/]\x1b]8;;http://x\x07"
    alerts = run(
        [rule(action("PutItem"), investigation_fields=("user.name",))],
        [event(0, timedelta(0), "PutItem", aws__dynamodb__table_name=[hostile])],
    )
    assert "[bold red]orders[/]" in describe(alerts[0].to_dict())
    console = Console(record=True, width=300, color_system=None)
    console.print(alerts_table([a.to_dict() for a in alerts]))
    shown = console.export_text()
    assert "[bold red]orders[/]" in shown
    assert "\x1b" not in shown and "\\x1b]8;;http://x\\x07" in shown
