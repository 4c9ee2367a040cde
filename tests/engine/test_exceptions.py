"""Exceptions excuse events by value, list, wildcard or CIDR, per rule or for all, until expiry."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from support.events import event, run
from support.rules import action, rule
from trailhound.errors import RuleError
from trailhound.rules.exceptions_file import load_exceptions
from trailhound.rules.model import Condition, RuleException

ROWS = [
    event(0, timedelta(0), "PutItem", user__name="ci-deployer", source__ip="10.4.0.7",
          aws__dynamodb__table_name=["test-orders"]),
    event(1, timedelta(minutes=1), "PutItem", user__name="alice", source__ip="203.0.113.5",
          aws__dynamodb__table_name=["orders"]),
]  # fmt: skip


def surviving(*exceptions: RuleException) -> list[str]:
    alerts = run([rule(action("PutItem"))], ROWS, exceptions=exceptions)
    return [a.event_ids[0] for a in alerts]


@pytest.mark.parametrize(
    "condition",
    [
        Condition("user.name", ("ci-deployer",)),
        Condition("user.name", ("bob", "ci-deployer")),
        Condition("user.name", ("ci-*",), "wildcard"),
        Condition("user.name", ("ci?deployer",), "wildcard"),
        Condition("source.ip", ("10.0.0.0/8",), "cidr"),
        Condition("aws.dynamodb.table_name", ("test-*",), "wildcard"),
    ],
)
def test_each_kind_of_condition_excuses_the_ci_event(condition: Condition) -> None:
    assert surviving(RuleException((condition,))) == ["ev-0001"]


def test_all_conditions_must_hold() -> None:
    both = RuleException(
        (
            Condition("user.name", ("ci-deployer",)),
            Condition("source.ip", ("192.168.0.0/16",), "cidr"),
        )
    )
    assert surviving(both) == ["ev-0000", "ev-0001"]


def test_an_expired_exception_no_longer_applies() -> None:
    cond = (Condition("user.name", ("ci-deployer",)),)
    assert surviving(RuleException(cond, expires=date(2026, 2, 28))) == ["ev-0000", "ev-0001"]
    assert surviving(RuleException(cond, expires=date(2026, 3, 1))) == ["ev-0001"]


def test_an_exception_for_another_rule_does_not_apply() -> None:
    cond = (Condition("user.name", ("ci-deployer",)),)
    other = RuleException(cond, rule_ids=("some other rule",))
    mine = RuleException(cond, rule_ids=("test rule",))  # by name
    assert surviving(other) == ["ev-0000", "ev-0001"]
    assert surviving(mine) == ["ev-0001"]


def test_exceptions_file_reads_rules_and_conditions(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.toml"
    path.write_text(
        '[[exceptions]]\ndescription = "CI"\nrules = ["test rule"]\nexpires = 2027-01-31\n'
        'conditions = [{ field = "source.ip", values = ["10.0.0.0/8"], kind = "cidr" }]\n'
    )
    [loaded] = load_exceptions(path)
    assert loaded.rule_ids == ("test rule",) and loaded.expires == date(2027, 1, 31)
    assert surviving(loaded) == ["ev-0001"]


def test_exceptions_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.toml"
    path.write_text(
        '[[exceptions]]\ndescription = "office"\n'
        'conditions = [{ field = "source.ip", values = ["nope"], kind = "cidr" }]\n'
    )
    with pytest.raises(RuleError) as err:
        load_exceptions(path)
    assert err.value.where == str(path) and err.value.line == 3
    assert "network" in err.value.message
