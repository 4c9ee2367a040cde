"""Rules built in code for engine tests, so the engine is tested apart from the rule files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from trailhound.rules import kql_ast as k
from trailhound.rules.model import QuerySpec, Rule, Spec


def match(field: str, value: str) -> k.Match:
    return k.Match(field, k.Value((value,), quoted=True))


def action(name: str) -> k.Node:
    return k.And((match("event.action", name), match("event.outcome", "success")))


def rule(ast: k.Node, spec: Spec | None = None, **kw: Any) -> Rule:
    base: dict[str, Any] = {
        "rule_id": "r-" + str(abs(hash((repr(ast), repr(spec)))) % 10**8),
        "name": "test rule",
        "description": "",
        "version": 1,
        "severity": "high",
        "risk_score": 73,
        "query": "",
        "ast": ast,
        "spec": spec or QuerySpec(),
        "interval": timedelta(minutes=5),
    }
    base.update(kw)
    return Rule(**base)
