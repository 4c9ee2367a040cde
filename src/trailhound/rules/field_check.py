"""Which fields a rule reads that no CloudTrail event has: such a test is always false (and true
under `not`), which is worth a warning, since in Elastic the same rule might read another index."""

from __future__ import annotations

from trailhound.cloudtrail.schema import BY_NAME, flattened_parent
from trailhound.rules import kql_ast as k
from trailhound.rules.model import Rule, SequenceSpec


def absent_fields(rule: Rule) -> list[str]:
    """The fields the rule's filters read that trailhound's CloudTrail mapping never produces,
    in name order. Field patterns (`user.*`) are left out: they name what exists."""
    trees = [rule.ast]
    if isinstance(rule.spec, SequenceSpec):
        trees += [step.ast for step in rule.spec.steps]
    read = set().union(*(k.fields(t) for t in trees))
    return sorted(f for f in read if "*" not in f and not _produced(f))


def _produced(field: str) -> bool:
    return field in BY_NAME or flattened_parent(field) is not None


def absent_field_note(rule: Rule) -> str | None:
    """The warning `rules validate` and `scan` give about a rule that reads absent fields, or
    None when it reads none: one wording, so a user who saw it in one command knows it in the
    other."""
    absent = absent_fields(rule)
    if not absent:
        return None
    return (
        f"{rule.name!r} reads fields no CloudTrail event has, "
        f"so their tests never match: {', '.join(absent)}"
    )
