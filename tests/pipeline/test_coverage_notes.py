"""What a scan says about rules that cannot fire: not configured, or missing data events."""

from __future__ import annotations

from trailhound.pipeline.coverage import Coverage
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.parameters import with_values

DECOY = "AWS DynamoDB Decoy Table Accessed"


def test_an_unconfigured_rule_is_named_with_how_to_configure_it() -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    notes = Coverage().blind_spots(rules)
    assert [n for n in notes if DECOY in n] == [
        f"{DECOY} is not configured and does not run: give it decoy_tables in trailhound.toml "
        f'([rules.overrides."{DECOY}"] parameters = {{ decoy_tables = [...] }})'
    ]
    configured = [with_values(r, {"decoy_tables": ("bait",)}) for r in rules]
    assert not [n for n in Coverage().blind_spots(configured) if DECOY in n]


def test_an_unconfigured_rule_is_not_also_listed_as_missing_data_events() -> None:
    coverage = Coverage()
    coverage.count("Management", "DescribeTable", 3)
    rules = load_rules([shipped_pack_dir()]).rules
    notes = coverage.blind_spots(rules)
    assert any("AWS DynamoDB Mass Item Deletion" in n for n in notes)
    assert not any(DECOY in n and "cannot fire" in n for n in notes)
