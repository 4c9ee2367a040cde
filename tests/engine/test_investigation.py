"""An alert's investigation fields: the distinct values of the rule's fields in its evidence,
found in nested objects and in keys that hold a dotted name (Elastic's flattened members)."""

from __future__ import annotations

from dataclasses import replace

from trailhound.engine.alert_making import investigation
from trailhound.rules.loader import load_rules, shipped_pack_dir


def test_values_are_found_nested_or_under_dotted_keys_in_first_seen_order() -> None:
    rule = replace(
        load_rules([shipped_pack_dir()]).rules[0],
        investigation_fields=(
            "user.name",
            "source.ip",
            "aws.cloudtrail.flattened.request_parameters.tableName",
            "cloud.region",
        ),
    )
    evidence = (
        {"user": {"name": "bob"}, "source": {"ip": "192.0.2.1"},
         "aws": {"cloudtrail": {"flattened": {"request_parameters.tableName": "orders"}}}},
        {"user": {"name": ["eve", "bob"]}, "source": {"ip": None},
         "aws": {"cloudtrail": {"flattened": {"request_parameters": {"tableName": "users"}}}}},
        {"user.name": "mallory", "cloud": {"region": {"nested": "object"}}},
    )  # fmt: skip
    assert investigation(rule, evidence) == {
        "user.name": ("bob", "eve", "mallory"),
        "source.ip": ("192.0.2.1",),
        "aws.cloudtrail.flattened.request_parameters.tableName": ("orders", "users"),
    }
