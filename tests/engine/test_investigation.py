"""An alert's investigation fields: the distinct values of the rule's fields in its evidence,
found in nested objects and in keys that hold a dotted name (Elastic's flattened members)."""

from __future__ import annotations

from dataclasses import replace

from trailhound.engine.part_making import investigation
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


def test_numbers_are_shown_as_text_and_objects_and_empty_lists_not_at_all() -> None:
    rule = replace(
        load_rules([shipped_pack_dir()]).rules[0],
        investigation_fields=("event.code", "tls.established", "user.roles", "group.id"),
    )
    evidence = (
        {"event": {"code": 403}, "tls": {"established": True}, "user": {"roles": []}},
        {"event": {"code": [403, "x", {"a": 1}, [2]]}, "group": {"id": {"deeper": "1"}}},
        {"event": "not an object", "tls": {"established.more": "y"}},
    )
    assert investigation(rule, evidence) == {
        "event.code": ("403", "x"),
        "tls.established": ("True",),
    }


def test_a_dotted_key_part_way_down_holds_the_rest_of_the_name() -> None:
    rule = replace(
        load_rules([shipped_pack_dir()]).rules[0],
        investigation_fields=("aws.cloudtrail.flattened.request_parameters.key.name",),
    )
    evidence = (
        {"aws": {"cloudtrail": {"flattened": {"request_parameters": {"key.name": "k1"}}}}},
        {"aws": {"cloudtrail.flattened": {"request_parameters": {"key": {"name": "k2"}}}}},
        {"aws": {"cloudtrail": {"flattened": {"request_parameters": {"key": "flat"}}}}},
    )
    assert investigation(rule, evidence) == {
        "aws.cloudtrail.flattened.request_parameters.key.name": ("k1",),
    }
