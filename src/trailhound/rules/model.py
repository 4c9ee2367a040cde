"""The typed rule model: what a detection is, independent of the file it came from.

A `Rule` holds what every detection has (identity, severity, ATT&CK, guide, filter) and a
`spec` that is one of the rule types: the discriminated union the engine dispatches on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from msgspec import Struct
from msgspec import field as struct_field

from trailhound.rules.kql_ast import Node

Severity = Literal["low", "medium", "high", "critical"]

# The parts of a rule are msgspec Structs, not dataclasses: every run imports them, and a
# Struct is made in C (~20 µs a class) where a frozen dataclass compiles each of its methods
# (~0.5 ms). Change one with `msgspec.structs.replace`. `Rule` stays a dataclass: its
# `prepared` is left out of equality and repr, which a Struct cannot do for one field.


class Technique(Struct, frozen=True):
    id: str
    name: str
    reference: str = ""
    subtechniques: tuple[Technique, ...] = ()


class Threat(Struct, frozen=True):
    framework: str
    tactic_id: str
    tactic_name: str
    tactic_reference: str = ""
    techniques: tuple[Technique, ...] = ()


class Suppression(Struct, frozen=True):
    """Elastic's alert_suppression: one alert per group per duration, the rest counted."""

    group_by: tuple[str, ...]
    duration: timedelta | None = None  # None: per rule execution, as in Elastic
    missing_fields_strategy: Literal["suppress", "doNotSuppress"] = "suppress"


class Condition(Struct, frozen=True):
    """One exception condition: the event is excused when `field` matches.

    `values` may hold wildcards (`*`, `?`) when `kind` is "wildcard", CIDRs when "cidr".
    """

    field: str
    values: tuple[str, ...]
    kind: Literal["value", "wildcard", "cidr"] = "value"


class RuleException(Struct, frozen=True):
    """Excuse events matching all conditions, optionally until an expiry date."""

    conditions: tuple[Condition, ...]
    description: str = ""
    expires: date | None = None
    rule_ids: tuple[str, ...] = ()  # empty: applies to every rule (global exceptions only)


class RuleTest(Struct, frozen=True):
    """An embedded test: raw CloudTrail records and how many alerts they must make.

    `parameters` sets the rule's parameters for this test (a decoy rule needs its list)."""

    name: str
    records: tuple[Mapping[str, Any], ...]
    expect_alerts: int
    synthetic: bool = False
    parameters: Mapping[str, tuple[str, ...]] = struct_field(default_factory=dict)


class Parameter(Struct, frozen=True):
    """A value list the user sets without copying the rule (`[[rule.parameters]]`): the
    events must have `field` equal to one of `values` (`*` a wildcard). With no values the
    rule is not configured and does not run."""

    name: str
    field: str
    values: tuple[str, ...] = ()
    description: str = ""


class QuerySpec(Struct, frozen=True):
    type: Literal["query"] = "query"


class Cardinality(Struct, frozen=True):
    field: str
    value: int


class ItemCount(Struct, frozen=True):
    """trailhound: an event counts once per value of `field` among `values` (the items of a
    batch), or once when the field is missing."""

    field: str
    values: tuple[str, ...]


class ThresholdSpec(Struct, frozen=True):
    fields: tuple[str, ...]
    value: int
    cardinality: tuple[Cardinality, ...] = ()
    window: timedelta | None = None  # trailhound: sliding window; None means the rule's lookback
    count: ItemCount | None = None  # trailhound: count items rather than events
    type: Literal["threshold"] = "threshold"


class BaselineSpec(Struct, frozen=True):
    """trailhound: a group's count in a window of event time against its own history.

    Windows are fixed (aligned to the epoch). A window alerts, once, at the event that brings
    its count to at least `min_count`, `factor` times the group's mean count over the active
    windows of its `history`, and that mean plus `deviations` standard deviations; and only
    when the group was already active `min_history` before (its warm-up)."""

    fields: tuple[str, ...]
    window: timedelta
    history: timedelta
    min_count: int
    min_history: timedelta
    factor: float | None = None
    deviations: float | None = None
    count: ItemCount | None = None
    type: Literal["baseline"] = "baseline"


class FactSource(Struct, frozen=True):
    """Events that teach a fact: their `key` field's values are tied to their `value` field's."""

    query: str
    ast: Node
    key: str
    value: str


class CorrelationSpec(Struct, frozen=True):
    """trailhound: an event of the rule's query whose `key` field holds a value some fact
    source taught within `remember` before it (a KMS key DynamoDB used for a table)."""

    key: str
    remember: timedelta
    facts: tuple[FactSource, ...]
    type: Literal["correlation"] = "correlation"


class NewTermsSpec(Struct, frozen=True):
    fields: tuple[str, ...]
    history_window: timedelta
    learning_period: timedelta | None = None  # trailhound: record but never alert at first
    type: Literal["new_terms"] = "new_terms"


class SequenceStep(Struct, frozen=True):
    query: str
    ast: Node


class SequenceSpec(Struct, frozen=True):
    by: tuple[str, ...]
    maxspan: timedelta
    steps: tuple[SequenceStep, ...]
    type: Literal["sequence"] = "sequence"


Spec = QuerySpec | ThresholdSpec | NewTermsSpec | SequenceSpec | BaselineSpec | CorrelationSpec


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    name: str
    description: str
    version: int
    severity: Severity
    risk_score: int
    query: str
    ast: Node
    spec: Spec
    language: str = "kuery"
    lookback: timedelta = timedelta(minutes=6)  # Elastic's `from`, as a span before `now`
    interval: timedelta = timedelta(minutes=5)
    max_signals: int = 100
    timestamp_override: str | None = None
    note: str = ""  # the investigation guide, Markdown
    setup: str = ""
    false_positives: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    index: tuple[str, ...] = ()
    investigation_fields: tuple[str, ...] = ()
    threat: tuple[Threat, ...] = ()
    suppression: Suppression | None = None
    exceptions: tuple[RuleException, ...] = ()
    tests: tuple[RuleTest, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    enabled: bool = True
    source: str = ""  # the file it came from, for messages
    # keys of the original file that the model does not interpret, kept for a faithful write
    extra: Mapping[str, Any] = field(default_factory=dict)
    # the engine's filters for this rule built ahead of time (`engine.filtering.PreparedFilter`),
    # so that a run need not build them; checked against the rule before use, never compared
    prepared: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def unconfigured(self) -> tuple[str, ...]:
        """The parameters still without values: until they have some, the rule cannot run."""
        return tuple(p.name for p in self.parameters if not p.values)

    @property
    def runs(self) -> bool:
        return self.enabled and not self.unconfigured
