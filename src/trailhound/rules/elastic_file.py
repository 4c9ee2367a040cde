"""Elastic detection-rules TOML as a rule format of the registry in `formats`: one rule a file."""

from __future__ import annotations

from trailhound.rules.elastic import RuleReport, key_location, read_rule_text


def read_rules(text: str, *, source: str) -> list[RuleReport]:
    return [read_rule_text(text, source=source)]


def locate_key(text: str, key: str) -> tuple[int | None, int | None]:
    return key_location(text, ("rule", key))
