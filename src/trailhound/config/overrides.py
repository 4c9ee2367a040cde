"""Per-rule settings from the configuration, applied to loaded rules as new (frozen) Rules.

Which rules run (`enabled`, `disabled`) and each rule's overrides are checked against the rules
actually loaded: a name that matches no rule, or a setting the rule's type does not have, is an
error at its key rather than a setting quietly ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal, TypeVar

from msgspec import Struct, structs

from trailhound.errors import ConfigError
from trailhound.rules.model import (
    BaselineSpec,
    NewTermsSpec,
    Rule,
    Severity,
    Spec,
    Suppression,
    ThresholdSpec,
)
from trailhound.rules.parameters import unknown, with_values
from trailhound.rules.toml_reader import KeyPath

Strategy = Literal["suppress", "doNotSuppress"]
# Makes the error for a key path; the configuration knows the file and the line.
Fail = Callable[[KeyPath, str], ConfigError]
T = TypeVar("T")

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Override keys that only some types of rule have, and those types.
_SPEC_KEYS: Mapping[str, tuple[str, ...]] = {
    "threshold": ("threshold",),
    "window": ("threshold", "baseline"),
    "history_window": ("new_terms", "baseline"),
    "learning_period": ("new_terms",),
    "min_count": ("baseline",),
    "factor": ("baseline",),
    "deviations": ("baseline",),
    "min_history": ("baseline",),
}
_PLAIN_KEYS = ("severity", "risk_score", "max_signals", "enabled")


class SuppressionOverride(Struct, frozen=True):
    """`suppression = {...}`: the keys given; None keeps the rule's own."""

    group_by: tuple[str, ...] | None = None
    duration: timedelta | None = None
    missing_fields: Strategy | None = None

    def given(self) -> dict[str, Any]:
        names = ("group_by", "duration", "missing_fields")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class RuleOverride(Struct, frozen=True):
    """One `[rules.overrides."NAME"]` table; None leaves the rule's own value."""

    severity: Severity | None = None
    risk_score: int | None = None
    threshold: int | None = None  # ThresholdSpec.value
    window: timedelta | None = None  # ThresholdSpec.window
    history_window: timedelta | None = None  # NewTermsSpec.history_window, BaselineSpec.history
    learning_period: timedelta | None = None  # NewTermsSpec.learning_period
    min_count: int | None = None  # BaselineSpec.min_count
    factor: float | None = None  # BaselineSpec.factor
    deviations: float | None = None  # BaselineSpec.deviations
    min_history: timedelta | None = None  # BaselineSpec.min_history
    parameters: Mapping[str, tuple[str, ...]] | None = None  # values of the rule's parameters
    suppression: SuppressionOverride | Literal[False] | None = None  # False: remove it
    max_signals: int | None = None
    enabled: bool | None = None


def key_text(path: KeyPath) -> str:
    """A key path as TOML spells it: rules.overrides."AWS DynamoDB Table Scanned".window,
    with list positions counted from 1 (rules.paths[2])."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            bare = _BARE_KEY.fullmatch(part)
            text += ("." if text else "") + (part if bare else json.dumps(part, ensure_ascii=False))
    return text


def apply_overrides(
    rules: Sequence[Rule],
    *,
    enabled: Sequence[str] | None,
    disabled: Sequence[str],
    overrides: Mapping[str, RuleOverride],
    fail: Fail,
) -> tuple[list[Rule], list[ConfigError]]:
    """The rules with the allow-list, then `disabled`, then the overrides applied; and every
    problem. A rule switched off stays in the list with `enabled = False`."""
    result = list(rules)
    index = _RuleIndex(result)
    errors: list[ConfigError] = []
    if enabled is not None:
        chosen = _positions(index, enabled, ("rules", "enabled"), fail, errors)
        result = [replace(rule, enabled=i in chosen) for i, rule in enumerate(result)]
    for i in _positions(index, disabled, ("rules", "disabled"), fail, errors):
        result[i] = replace(result[i], enabled=False)
    claimed: dict[int, str] = {}
    for key, override in overrides.items():
        at: KeyPath = ("rules", "overrides", key)
        found = index.find(key)
        if found is None:
            errors.append(fail(at, index.missing(key)))
        elif found in claimed:
            errors.append(fail(at, f"names the same rule as the override {claimed[found]!r}"))
        else:
            claimed[found] = key
            result[found] = _apply_one(result[found], override, at, fail, errors)
    return result, errors


class _RuleIndex:
    """Finds a rule by its name or its rule_id."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._by_key: dict[str, int] = {}
        for i, rule in enumerate(rules):
            self._by_key.setdefault(rule.rule_id, i)
            self._by_key.setdefault(rule.name, i)

    def find(self, key: str) -> int | None:
        return self._by_key.get(key)

    def missing(self, key: str) -> str:
        import difflib  # here: only a mistaken key needs it (~1 ms to import)

        message = f"no loaded rule has the name or rule_id {json.dumps(key)}"
        close = difflib.get_close_matches(key, list(self._by_key), n=1)
        return message + (f" (did you mean {json.dumps(close[0])}?)" if close else "")


def _positions(
    index: _RuleIndex, names: Sequence[str], at: KeyPath, fail: Fail, errors: list[ConfigError]
) -> set[int]:
    found: set[int] = set()
    for n, name in enumerate(names):
        i = index.find(name)
        if i is None:
            errors.append(fail((*at, n), index.missing(name)))
        else:
            found.add(i)
    return found


def _apply_one(
    rule: Rule, override: RuleOverride, at: KeyPath, fail: Fail, errors: list[ConfigError]
) -> Rule:
    changes: dict[str, Any] = {
        key: getattr(override, key) for key in _PLAIN_KEYS if getattr(override, key) is not None
    }
    changes["spec"] = _spec(rule, override, at, fail, errors)
    if override.parameters is not None:
        for name in unknown(rule, override.parameters):
            errors.append(fail((*at, "parameters", name), _no_parameter(rule, name)))
        changes["parameters"] = with_values(rule, override.parameters).parameters
    if override.suppression is not None:
        where: KeyPath = (*at, "suppression")
        changes["suppression"] = _suppression(rule, override.suppression, where, fail, errors)
    return replace(rule, **changes)


def _spec(
    rule: Rule, override: RuleOverride, at: KeyPath, fail: Fail, errors: list[ConfigError]
) -> Spec:
    for key, kinds in _SPEC_KEYS.items():
        if getattr(override, key) is not None and rule.type not in kinds:
            message = f"only {' and '.join(kinds)} rules take {key}; this is a {rule.type} rule"
            errors.append(fail((*at, key), message))
    spec = rule.spec
    if isinstance(spec, ThresholdSpec):
        value = _or(override.threshold, spec.value)
        return structs.replace(spec, value=value, window=_or(override.window, spec.window))
    if isinstance(spec, NewTermsSpec):
        history = _or(override.history_window, spec.history_window)
        learning = _or(override.learning_period, spec.learning_period)
        return structs.replace(spec, history_window=history, learning_period=learning)
    if isinstance(spec, BaselineSpec):
        return _baseline(spec, override)
    return spec


def _baseline(spec: BaselineSpec, override: RuleOverride) -> BaselineSpec:
    return structs.replace(
        spec,
        window=_or(override.window, spec.window),
        history=_or(override.history_window, spec.history),
        min_count=_or(override.min_count, spec.min_count),
        factor=_or(override.factor, spec.factor),
        deviations=_or(override.deviations, spec.deviations),
        min_history=_or(override.min_history, spec.min_history),
    )


def _no_parameter(rule: Rule, name: str) -> str:
    own = ", ".join(p.name for p in rule.parameters) or "none"
    return f"the rule has no parameter {name!r} (its parameters: {own})"


def _suppression(
    rule: Rule,
    given: SuppressionOverride | Literal[False],
    at: KeyPath,
    fail: Fail,
    errors: list[ConfigError],
) -> Suppression | None:
    if given is False:
        return None
    own = rule.suppression
    duration = _or(given.duration, own.duration if own else None)
    if isinstance(rule.spec, ThresholdSpec):
        # As in Elastic: a threshold rule suppresses per threshold group, by duration only.
        for key in ("group_by", "missing_fields"):
            if getattr(given, key) is not None:
                errors.append(fail((*at, key), "a threshold rule suppresses per threshold "
                                               "group; give it only duration"))  # fmt: skip
        return Suppression(rule.spec.fields, duration)
    if rule.type == "sequence":
        errors.append(fail(at, "sequence rules have no suppression"))
        return own
    group_by = given.group_by or (own.group_by if own else None)
    if not group_by:
        errors.append(fail(at, "needs group_by: the rule has no suppression of its own to change"))
        return own
    strategy = given.missing_fields or (own.missing_fields_strategy if own else "suppress")
    return Suppression(group_by, duration, strategy)


def _or(value: T | None, default: T) -> T:
    return default if value is None else value
