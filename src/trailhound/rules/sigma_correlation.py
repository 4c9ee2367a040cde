"""Sigma correlation rules as trailhound rule types: `event_count` and `value_count` are
threshold rules over the rules they name, `temporal_ordered` is a sequence. What has no
trailhound meaning is refused, saying why."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from trailhound.rules import kql_ast as k
from trailhound.rules.elastic_format import THRESHOLD_MAX_FIELDS
from trailhound.rules.model import (
    Cardinality,
    SequenceSpec,
    SequenceStep,
    Spec,
    ThresholdSpec,
)


class CorrelationError(ValueError):
    """A correlation trailhound cannot run; the message says why."""


def correlation_spec(
    rule: SigmaCorrelationRule, trees: Mapping[int, tuple[str, k.Node]]
) -> tuple[k.Node, Spec]:
    """The filter and the rule type of a correlation; `trees` holds, by `id()` of each Sigma
    rule, its name and its converted condition."""
    if rule.aliases.aliases:
        raise CorrelationError("field aliases are not supported: use one field name in every rule")
    if not isinstance(rule.condition, SigmaCorrelationCondition):
        raise CorrelationError("extended (boolean) correlation conditions are not supported")
    steps = [trees[id(ref.rule)] for ref in rule.rules or ()]
    group = tuple(rule.group_by or ())
    window = timedelta(seconds=rule.timespan.seconds)
    match rule.type:
        case SigmaCorrelationType.EVENT_COUNT:
            anyone = _any_of([tree for _, tree in steps])
            return anyone, _threshold(group, _at_least(rule.condition), window)
        case SigmaCorrelationType.VALUE_COUNT:
            anyone = _any_of([tree for _, tree in steps])
            return anyone, _distinct(group, rule.condition, window)
        case SigmaCorrelationType.TEMPORAL_ORDERED:
            _all_rules(rule.condition, len(steps))
            return k.Exists("*"), _sequence(group, window, steps)
        case SigmaCorrelationType.TEMPORAL:
            raise CorrelationError(
                "temporal correlations match their rules in any order, and trailhound's "
                "sequences are ordered: write it as temporal_ordered"
            )
    raise CorrelationError(f"{rule.type.name.lower()} correlations are not supported")


def _any_of(trees: list[k.Node]) -> k.Node:
    return trees[0] if len(trees) == 1 else k.Or(tuple(trees))


def _at_least(condition: SigmaCorrelationCondition) -> int:
    """The count a threshold alerts at: trailhound alerts when a count reaches a value."""
    count = condition.count
    if condition.fieldref is not None and not isinstance(condition.fieldref, str):
        raise CorrelationError("a condition on several fields is not supported")
    if count != int(count):
        raise CorrelationError(f"a count must be a whole number, not {count}")
    match condition.op:
        case SigmaCorrelationConditionOperator.GTE:
            return max(int(count), 1)
        case SigmaCorrelationConditionOperator.GT:
            return int(count) + 1
    raise CorrelationError(
        f"condition {condition.op.name.lower()} cannot be a threshold: trailhound alerts when "
        "a count reaches a value (gte) or passes it (gt)"
    )


def _threshold(group: tuple[str, ...], value: int, window: timedelta) -> ThresholdSpec:
    if len(group) > THRESHOLD_MAX_FIELDS:
        raise CorrelationError(f"group-by has at most {THRESHOLD_MAX_FIELDS} fields")
    return ThresholdSpec(fields=group, value=value, window=window)


def _distinct(
    group: tuple[str, ...], condition: SigmaCorrelationCondition, window: timedelta
) -> ThresholdSpec:
    if not isinstance(condition.fieldref, str):
        raise CorrelationError("value_count needs the field whose values it counts")
    value = _at_least(condition)
    # `value` distinct values take at least `value` events
    spec = _threshold(group, value, window)
    return ThresholdSpec(
        fields=spec.fields,
        value=value,
        cardinality=(Cardinality(condition.fieldref, value),),
        window=window,
    )


def _all_rules(condition: SigmaCorrelationCondition, rules: int) -> None:
    """A sequence needs every rule: the condition must not ask for fewer (gte 1 is the default
    a rule without a condition gets)."""
    if condition.op is SigmaCorrelationConditionOperator.GTE and condition.count in (1, rules):
        return
    raise CorrelationError(
        "a temporal_ordered condition that asks for other than all of its rules is not supported"
    )


def _sequence(
    group: tuple[str, ...], window: timedelta, steps: list[tuple[str, k.Node]]
) -> SequenceSpec:
    if len(steps) < 2:
        raise CorrelationError("a temporal_ordered correlation needs at least 2 rules")
    return SequenceSpec(
        by=group,
        maxspan=window,
        steps=tuple(SequenceStep(query=name, ast=tree) for name, tree in steps),
    )
