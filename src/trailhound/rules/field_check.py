"""Which fields a rule reads that no CloudTrail event has: such a test is always false (and true
under `not`), which is worth a warning, since in Elastic the same rule might read another index.
A rule that groups its events by such a field (threshold, new_terms, baseline, sequence `by`,
correlation key) never fires at all: an event without a value is no group and no term."""

from __future__ import annotations

from trailhound.cloudtrail.schema import BY_NAME, flattened_parent
from trailhound.rules import kql_ast as k
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    NewTermsSpec,
    Rule,
    SequenceSpec,
    ThresholdSpec,
)


def absent_fields(rule: Rule) -> list[str]:
    """The fields the rule's filters read that trailhound's CloudTrail mapping never produces,
    in name order. Field patterns (`user.*`) are left out: they name what exists."""
    trees = [rule.ast]
    if isinstance(rule.spec, SequenceSpec):
        trees += [step.ast for step in rule.spec.steps]
    read = set().union(*(k.fields(t) for t in trees))
    return sorted(f for f in read if "*" not in f and not _produced(f))


def absent_key_fields(rule: Rule) -> list[str]:
    """The fields the rule groups or joins its events by that the mapping never produces, in
    name order: with any of them the rule can never fire."""
    return sorted({f for f in _key_fields(rule) if not _produced(f)})


def absent_field_note(rule: Rule) -> str | None:
    """The warning `rules validate` and `scan` give about a rule that reads absent fields, or
    None when it reads none: one wording, so a user who saw it in one command knows it in the
    other."""
    parts: list[str] = []
    absent = absent_fields(rule)
    if absent:
        parts.append(
            f"reads fields no CloudTrail event has, so their tests never match: {', '.join(absent)}"
        )
    keys = absent_key_fields(rule)
    if keys:
        parts.append(
            f"groups events by fields no CloudTrail event has, so it never fires: {', '.join(keys)}"
        )
    return f"{rule.name!r} {'; and '.join(parts)}" if parts else None


def _key_fields(rule: Rule) -> tuple[str, ...]:
    match rule.spec:
        case (
            ThresholdSpec(fields=fields) | NewTermsSpec(fields=fields) | BaselineSpec(fields=fields)
        ):
            return fields
        case SequenceSpec(by=by):
            return by
        case CorrelationSpec(key=key):
            return (key,)
    return ()


def _produced(field: str) -> bool:
    return field in BY_NAME or flattened_parent(field) is not None
