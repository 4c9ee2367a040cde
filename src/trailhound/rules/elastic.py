"""Elastic detection-rules TOML in and out: one file is one `Rule`.

Reading collects every problem of a file, each with its line, instead of stopping at the first.
Keys the model does not interpret are kept in `Rule.extra` (`extra["metadata"]`, `extra["rule"]`,
and any other top-level table) so that writing a rule back loses nothing.

trailhound's own keys live beside Elastic's: `[rule.threshold] window`, `[rule.new_terms]
learning_period`, `type = "sequence"` with `[rule.sequence]`, `[[rule.exceptions]]`, `enabled`,
and top-level `[[tests]]` whose `records` are raw CloudTrail records as JSON text.
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from types import MappingProxyType
from typing import Any, Literal, TypeVar, get_args

from trailhound.errors import RuleError, TrailhoundError
from trailhound.rules import attack, kql
from trailhound.rules.duration import (
    format_date_math,
    format_duration,
    format_duration_object,
    parse_date_math,
    parse_duration,
    parse_duration_object,
)
from trailhound.rules.kql_ast import Node
from trailhound.rules.model import (
    Cardinality,
    Condition,
    NewTermsSpec,
    QuerySpec,
    Rule,
    RuleException,
    RuleTest,
    SequenceSpec,
    SequenceStep,
    Severity,
    Spec,
    Suppression,
    Technique,
    Threat,
    ThresholdSpec,
)

KeyPath = tuple[str | int, ...]
T = TypeVar("T")

RUNNABLE_TYPES = ("query", "threshold", "new_terms", "sequence")
SEVERITIES: tuple[str, ...] = get_args(Severity)
NEW_TERMS_MAX_FIELDS = 3  # Elastic's limit
SUPPRESSION_MAX_FIELDS = 3  # Elastic's limit
# Elastic allows 3 threshold fields before stack 9.2 and 5 from it on.
THRESHOLD_MAX_FIELDS = 5
THRESHOLD_MAX_FIELDS_BEFORE_9_2 = 3

DEFAULT_LOOKBACK = timedelta(minutes=6)
DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_MAX_SIGNALS = 100

# Keys of [rule] that the model interprets; every other key is kept in extra["rule"].
# fmt: off
_RULE_KEYS = frozenset((
    "rule_id", "name", "description", "version", "severity", "risk_score", "type", "language",
    "query", "from", "interval", "max_signals", "timestamp_override", "note", "setup",
    "false_positives", "references", "tags", "author", "index", "investigation_fields", "threat",
    "alert_suppression", "exceptions", "enabled", "threshold", "new_terms", "new_terms_fields",
    "history_window_start", "sequence",
))
# fmt: on
_MISSING_FIELDS: Mapping[str, Literal["suppress", "doNotSuppress"]] = MappingProxyType(
    {"suppress": "suppress", "doNotSuppress": "doNotSuppress"}
)
_CONDITION_KINDS: Mapping[str, Literal["value", "wildcard", "cidr"]] = MappingProxyType(
    {"value": "value", "wildcard": "wildcard", "cidr": "cidr"}
)
# Keys of [rule] that only one rule type may have, with that type.
_SPEC_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "threshold": "threshold",
        "new_terms": "new_terms",
        "new_terms_fields": "new_terms",
        "history_window_start": "new_terms",
        "sequence": "sequence",
    }
)


@dataclass(frozen=True, slots=True)
class RuleReport:
    """The outcome of reading one rule file: the rule, or every problem found in it."""

    source: str
    rule: Rule | None
    errors: tuple[RuleError, ...] = ()


def read_rule_text(text: str, *, source: str) -> RuleReport:
    """Read one rule file's text, collecting every problem rather than raising."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return RuleReport(source, None, (_toml_error(err, source),))
    reader = _Reader(text, source)
    rule = _read_document(reader, doc)
    if reader.errors:
        ordered = sorted(reader.errors, key=lambda e: (e.line or 0, e.column or 0))
        return RuleReport(source, None, tuple(ordered))
    return RuleReport(source, rule)


def key_location(text: str, path: Sequence[str | int]) -> tuple[int | None, int | None]:
    """Line and column of a key such as ("rule", "name") in TOML text, or of its nearest parent."""
    return _Locator(text).find(tuple(path))


def load_rule_text(text: str, *, source: str) -> Rule:
    """Read one rule file's text; raise the first problem as a RuleError with its location."""
    report = read_rule_text(text, source=source)
    if report.rule is None:
        raise report.errors[0]
    return report.rule


def dump_rule(rule: Rule) -> str:
    """The rule as Elastic detection-rules TOML plus trailhound's keys; `load_rule_text` reads
    it back as an equal rule."""
    doc: dict[str, Any] = {}
    if "metadata" in rule.extra:
        doc["metadata"] = rule.extra["metadata"]
    doc["rule"] = {**_rule_table(rule), **rule.extra.get("rule", {})}
    doc.update((k, v) for k, v in rule.extra.items() if k not in ("metadata", "rule"))
    if rule.tests:
        doc["tests"] = [_test_table(t) for t in rule.tests]
    return _render_document(doc)


# --------------------------------------------------------------------------- reading


class _Reader:
    """Typed access to the parsed TOML that records problems at their lines and carries on."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.errors: list[RuleError] = []
        self._locator = _Locator(text)

    def fail(self, path: KeyPath, message: str) -> None:
        line, column = self._locator.find(path)
        self.errors.append(RuleError(message, where=self.source, line=line, column=column))

    def get(
        self, table: Mapping[str, Any], key: str, path: KeyPath, kind: type[T], what: str
    ) -> T | None:
        value = table.get(key)
        if value is None:
            return None
        # TOML booleans are not numbers, though Python's bool is an int.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail((*path, key), f"{_name(path, key)} must be {what}")
            return None
        return value

    def require(
        self, table: Mapping[str, Any], key: str, path: KeyPath, kind: type[T], what: str
    ) -> T | None:
        if key not in table:
            self.fail(path, f"{_table_name(path)} is missing required key {key!r}")
            return None
        return self.get(table, key, path, kind, what)

    def text(self, table: Mapping[str, Any], key: str, path: KeyPath, default: str = "") -> str:
        value = self.get(table, key, path, str, "a string")
        return default if value is None else value

    def texts(
        self, table: Mapping[str, Any], key: str, path: KeyPath, *, single: bool = False
    ) -> tuple[str, ...]:
        """A list of strings; with `single`, a lone string counts as a list of one."""
        value = table.get(key)
        if value is None:
            return ()
        if single and isinstance(value, str):
            return (value,) if value else ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*path, key), f"{_name(path, key)} must be a list of strings")
            return ()
        return tuple(value)

    def tables(self, table: Mapping[str, Any], key: str, path: KeyPath) -> list[dict[str, Any]]:
        value = table.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail((*path, key), f"{_name(path, key)} must be a list of tables")
            return []
        return value

    def only(self, table: Mapping[str, Any], allowed: set[str], path: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail((*path, key), f"unknown key {key!r} in {_table_name(path)} ({known})")

    def convert(self, path: KeyPath, parse: Callable[[], T]) -> T | None:
        """Run a parser of durations, dates or addresses; record its complaint at `path`."""
        try:
            return parse()
        except (TrailhoundError, ValueError) as err:
            message = err.message if isinstance(err, TrailhoundError) else str(err)
            self.fail(path, f"{_name(path[:-1], path[-1])}: {message}")
            return None

    def query(self, text: str, path: KeyPath) -> Node | None:
        line, column = self._locator.value_start(path)
        try:
            return kql.parse(text, where=self.source, line=line, column=column)
        except RuleError as err:
            self.errors.append(err)
            return None


@dataclass(slots=True)
class _Parts:
    """Pieces of a rule read so far; turned into a `Rule` only when the file had no problem."""

    values: dict[str, Any] = field(default_factory=dict)
    complete: bool = True

    def put(self, key: str, value: Any) -> None:
        if value is None:
            self.complete = False
        else:
            self.values[key] = value


def _read_document(reader: _Reader, doc: dict[str, Any]) -> Rule | None:
    rule_table = doc.get("rule")
    if not isinstance(rule_table, dict):
        reader.fail((), "a rule file needs a [rule] table")
        return None
    parts = _Parts()
    parts.put("source", reader.source)
    _read_identity(reader, rule_table, parts)
    _read_schedule(reader, rule_table, parts)
    _read_lists(reader, rule_table, parts)
    kind = _read_kind(reader, rule_table)
    if kind is not None:
        _read_query_and_spec(reader, rule_table, kind, doc.get("metadata"), parts)
    read_threat = partial(_read_threat, reader)
    parts.put("threat", _each(reader, rule_table, "threat", ("rule",), read_threat))
    groups = _threshold_groups(kind, parts.values.get("spec"))
    parts.values["suppression"] = _read_suppression(reader, rule_table, groups)
    read_exception = partial(_read_exception, reader)
    parts.put("exceptions", _each(reader, rule_table, "exceptions", ("rule",), read_exception))
    parts.put("tests", _each(reader, doc, "tests", (), partial(_read_test, reader)))
    parts.put("extra", _extra(doc))
    if reader.errors or not parts.complete:
        return None
    return Rule(**parts.values)


def _threshold_groups(kind: str | None, spec: object) -> tuple[str, ...] | None:
    """A threshold rule's group fields, which are also its suppression groups; else None."""
    if kind != "threshold":
        return None
    return spec.fields if isinstance(spec, ThresholdSpec) else ()


def _extra(doc: Mapping[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in doc.items() if k not in ("rule", "tests")}
    leftover = {k: v for k, v in doc["rule"].items() if k not in _RULE_KEYS}
    if leftover:
        extra["rule"] = leftover
    return extra


def _read_identity(reader: _Reader, rule: Mapping[str, Any], parts: _Parts) -> None:
    at: KeyPath = ("rule",)
    for key in ("rule_id", "name", "description"):
        value = reader.require(rule, key, at, str, "a string")
        if value is not None and not value.strip():
            reader.fail((*at, key), f"{key} must not be empty")
        parts.put(key, value)
    severity = reader.require(rule, "severity", at, str, "a string")
    if severity is not None and severity not in SEVERITIES:
        reader.fail(
            (*at, "severity"),
            f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}",
        )
    parts.put("severity", severity)
    risk = reader.require(rule, "risk_score", at, int, "a whole number")
    if risk is not None and not 0 <= risk <= 100:
        reader.fail((*at, "risk_score"), f"risk_score must be between 0 and 100, not {risk}")
    parts.put("risk_score", risk)
    parts.put("version", _positive(reader, rule, "version", at, default=1))
    parts.put("enabled", _flag(reader, rule, "enabled", at, default=True))
    for key in ("note", "setup"):
        parts.put(key, reader.text(rule, key, at))
    override = reader.get(rule, "timestamp_override", at, str, "a string")
    parts.values["timestamp_override"] = override


def _read_schedule(reader: _Reader, rule: Mapping[str, Any], parts: _Parts) -> None:
    at: KeyPath = ("rule",)
    start = reader.get(rule, "from", at, str, "date math such as now-9m")
    lookback = (
        DEFAULT_LOOKBACK
        if start is None
        else reader.convert((*at, "from"), lambda: parse_date_math(start))
    )
    every = reader.get(rule, "interval", at, str, "a duration such as 5m")
    interval = (
        DEFAULT_INTERVAL
        if every is None
        else reader.convert((*at, "interval"), lambda: parse_duration(every))
    )
    parts.put("lookback", lookback)
    parts.put("interval", interval)
    parts.put(
        "max_signals", _positive(reader, rule, "max_signals", at, default=DEFAULT_MAX_SIGNALS)
    )


def _read_lists(reader: _Reader, rule: Mapping[str, Any], parts: _Parts) -> None:
    at: KeyPath = ("rule",)
    for key in ("false_positives", "references", "tags", "author", "index"):
        parts.put(key, reader.texts(rule, key, at))
    parts.put("investigation_fields", _investigation_fields(reader, rule))


def _investigation_fields(reader: _Reader, rule: Mapping[str, Any]) -> tuple[str, ...]:
    # Elastic has written these both as a plain list and as a table of `field_names`.
    value = rule.get("investigation_fields")
    at: KeyPath = ("rule",)
    if isinstance(value, dict):
        reader.only(value, {"field_names"}, (*at, "investigation_fields"))
        return reader.texts(value, "field_names", (*at, "investigation_fields"))
    return reader.texts(rule, "investigation_fields", at)


def _read_kind(reader: _Reader, rule: Mapping[str, Any]) -> str | None:
    """The rule type and language, when trailhound can run them."""
    at: KeyPath = ("rule",)
    kind = reader.require(rule, "type", at, str, "a string")
    language = reader.get(rule, "language", at, str, "a string")
    if kind is not None and kind not in RUNNABLE_TYPES:
        reader.fail(
            (*at, "type"),
            f"unsupported rule type {kind!r}: trailhound runs {', '.join(RUNNABLE_TYPES)} rules",
        )
        return None
    if language not in (None, "kuery"):
        reader.fail(
            (*at, "language"),
            f'unsupported query language {language!r}: trailhound reads KQL (language = "kuery")',
        )
        return None
    for key, owner in _SPEC_KEYS.items():
        if key in rule and kind is not None and owner != kind:
            reader.fail((*at, key), f"rule.{key} belongs to {owner} rules, not {kind} rules")
    return kind


def _read_query_and_spec(
    reader: _Reader, rule: Mapping[str, Any], kind: str, metadata: object, parts: _Parts
) -> None:
    at: KeyPath = ("rule",)
    parts.put("language", "kuery")
    if kind == "sequence" and "query" not in rule:
        # A sequence's steps carry the queries; without a shared filter every event qualifies.
        parts.put("query", "")
        parts.put("ast", kql.MATCH_ALL)
    else:
        query = reader.require(rule, "query", at, str, "a string")
        parts.put("query", query)
        parts.put("ast", None if query is None else reader.query(query, (*at, "query")))
    parts.put("spec", _read_spec(reader, rule, kind, metadata))


def _read_spec(
    reader: _Reader, rule: Mapping[str, Any], kind: str, metadata: object
) -> Spec | None:
    match kind:
        case "query":
            return QuerySpec()
        case "threshold":
            return _read_threshold(reader, rule, _threshold_cap(metadata))
        case "new_terms":
            return _read_new_terms(reader, rule)
        case "sequence":
            return _read_sequence(reader, rule)
    raise AssertionError(f"unhandled rule type {kind}")


def _threshold_cap(metadata: object) -> int:
    stack = metadata.get("min_stack_version") if isinstance(metadata, dict) else None
    if isinstance(stack, str) and _version_tuple(stack) < (9, 2):
        return THRESHOLD_MAX_FIELDS_BEFORE_9_2
    return THRESHOLD_MAX_FIELDS


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _read_threshold(reader: _Reader, rule: Mapping[str, Any], cap: int) -> ThresholdSpec | None:
    at: KeyPath = ("rule", "threshold")
    table = reader.require(rule, "threshold", at[:1], dict, "a table")
    if table is None:
        return None
    reader.only(table, {"field", "value", "cardinality", "window"}, at)
    fields = reader.texts(table, "field", at, single=True)
    if len(fields) > cap:
        reader.fail(
            (*at, "field"), f"a threshold groups by at most {cap} fields, not {len(fields)}"
        )
    value = reader.require(table, "value", at, int, "a whole number")
    if value is not None and value < 1:
        reader.fail((*at, "value"), f"threshold value must be at least 1, not {value}")
    cardinality = _each(reader, table, "cardinality", at, partial(_read_cardinality, reader))
    window = _optional_duration(reader, table, "window", at)
    if value is None or cardinality is None or (window is None and "window" in table):
        return None
    return ThresholdSpec(fields=fields, value=value, cardinality=cardinality, window=window)


def _read_cardinality(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> Cardinality | None:
    reader.only(item, {"field", "value"}, at)
    name = reader.require(item, "field", at, str, "a string")
    count = reader.require(item, "value", at, int, "a whole number")
    if count is not None and count < 1:
        reader.fail((*at, "value"), f"cardinality value must be at least 1, not {count}")
        return None
    return None if name is None or count is None else Cardinality(field=name, value=count)


def _read_new_terms(reader: _Reader, rule: Mapping[str, Any]) -> NewTermsSpec | None:
    if "new_terms" in rule:
        if "new_terms_fields" in rule or "history_window_start" in rule:
            reader.fail(
                ("rule", "new_terms"),
                "write new terms either as [rule.new_terms] or as "
                "new_terms_fields/history_window_start, not both",
            )
        return _new_terms_table(reader, rule)
    at: KeyPath = ("rule",)
    fields = _new_terms_fields(reader, rule, "new_terms_fields", at)
    start = reader.require(rule, "history_window_start", at, str, "date math such as now-14d")
    history = (
        None
        if start is None
        else reader.convert((*at, "history_window_start"), lambda: parse_date_math(start))
    )
    if fields is None or history is None:
        return None
    return NewTermsSpec(fields=fields, history_window=history)


def _new_terms_table(reader: _Reader, rule: Mapping[str, Any]) -> NewTermsSpec | None:
    at: KeyPath = ("rule", "new_terms")
    table = reader.get(rule, "new_terms", at[:1], dict, "a table")
    if table is None:
        return None
    reader.only(table, {"field", "value", "history_window_start", "learning_period"}, at)
    label = reader.require(table, "field", at, str, "a string")
    if label is not None and label != "new_terms_fields":
        reader.fail((*at, "field"), f'new_terms field must be "new_terms_fields", not {label!r}')
    fields = _new_terms_fields(reader, table, "value", at)
    history = _history_window(reader, table, at)
    learning = _optional_duration(reader, table, "learning_period", at)
    if fields is None or history is None or (learning is None and "learning_period" in table):
        return None
    return NewTermsSpec(fields=fields, history_window=history, learning_period=learning)


def _new_terms_fields(
    reader: _Reader, table: Mapping[str, Any], key: str, at: KeyPath
) -> tuple[str, ...] | None:
    if key not in table:
        reader.fail(at, f"{_table_name(at)} is missing required key {key!r}")
        return None
    fields = reader.texts(table, key, at)
    if not 1 <= len(fields) <= NEW_TERMS_MAX_FIELDS:
        reader.fail(
            (*at, key), f"new terms need 1 to {NEW_TERMS_MAX_FIELDS} fields, not {len(fields)}"
        )
        return None
    return fields


def _history_window(reader: _Reader, table: Mapping[str, Any], at: KeyPath) -> timedelta | None:
    if "history_window_start" not in table:
        reader.fail(at, f"{_table_name(at)} is missing required key 'history_window_start'")
        return None
    entries = reader.tables(table, "history_window_start", at)
    if len(entries) != 1:
        reader.fail(
            (*at, "history_window_start"), "history_window_start must hold exactly one entry"
        )
        return None
    here = (*at, "history_window_start", 0)
    reader.only(entries[0], {"field", "value"}, here)
    label = reader.require(entries[0], "field", here, str, "a string")
    if label is not None and label != "history_window_start":
        reader.fail((*here, "field"), f'field must be "history_window_start", not {label!r}')
    start = reader.require(entries[0], "value", here, str, "date math such as now-14d")
    return (
        None if start is None else reader.convert((*here, "value"), lambda: parse_date_math(start))
    )


def _read_sequence(reader: _Reader, rule: Mapping[str, Any]) -> SequenceSpec | None:
    at: KeyPath = ("rule", "sequence")
    table = reader.require(rule, "sequence", at[:1], dict, "a table")
    if table is None:
        return None
    reader.only(table, {"by", "maxspan", "steps"}, at)
    by = reader.texts(table, "by", at, single=True)
    span = reader.require(table, "maxspan", at, str, "a duration such as 1h")
    maxspan = (
        None if span is None else reader.convert((*at, "maxspan"), lambda: parse_duration(span))
    )
    if "steps" not in table:
        reader.fail(at, "[rule.sequence] is missing required key 'steps'")
    steps = _each(reader, table, "steps", at, partial(_read_step, reader))
    count = len(reader.tables(table, "steps", at))
    if "steps" in table and count < 2:
        reader.fail((*at, "steps"), f"a sequence needs at least 2 steps, not {count}")
    if maxspan is None or steps is None or count < 2:
        return None
    return SequenceSpec(by=by, maxspan=maxspan, steps=steps)


def _read_step(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> SequenceStep | None:
    reader.only(item, {"query"}, at)
    query = reader.require(item, "query", at, str, "a string")
    ast = None if query is None else reader.query(query, (*at, "query"))
    return None if query is None or ast is None else SequenceStep(query=query, ast=ast)


def _read_threat(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> Threat | None:
    reader.only(item, {"framework", "tactic", "technique"}, at)
    framework = reader.require(item, "framework", at, str, "a string")
    tactic = reader.require(item, "tactic", at, dict, "a table")
    if framework is None or tactic is None:
        return None
    for problem in attack.framework_problems(framework):
        reader.fail((*at, "framework"), problem)
    here = (*at, "tactic")
    tactic_id, name, reference = _entry(reader, tactic, here, {"id", "name", "reference"})
    if tactic_id is None or name is None:
        return None
    for key, problem in attack.tactic_problems(framework, tactic_id, name, reference):
        reader.fail((*here, key), problem)
    techniques = _each(reader, item, "technique", at, partial(_read_technique, reader, framework))
    if techniques is None:
        return None
    return Threat(framework, tactic_id, name, reference, techniques)


def _read_technique(
    reader: _Reader,
    framework: str,
    item: Mapping[str, Any],
    at: KeyPath,
    parent: str | None = None,
) -> Technique | None:
    allowed = {"id", "name", "reference"} | ({"subtechnique"} if parent is None else set())
    technique_id, name, reference = _entry(reader, item, at, allowed)
    if technique_id is None or name is None:
        return None
    for key, problem in attack.technique_problems(
        framework, technique_id, reference, parent=parent
    ):
        reader.fail((*at, key), problem)
    read_sub = partial(_read_technique, reader, framework, parent=technique_id)
    subs = _each(reader, item, "subtechnique", at, read_sub)
    return None if subs is None else Technique(technique_id, name, reference, subs)


def _entry(
    reader: _Reader, item: Mapping[str, Any], at: KeyPath, allowed: set[str]
) -> tuple[str | None, str | None, str]:
    reader.only(item, allowed, at)
    entry_id = reader.require(item, "id", at, str, "a string")
    name = reader.require(item, "name", at, str, "a string")
    return entry_id, name, reader.text(item, "reference", at)


def _read_suppression(
    reader: _Reader, rule: Mapping[str, Any], threshold_fields: tuple[str, ...] | None
) -> Suppression | None:
    """The rule's alert suppression; `threshold_fields` are a threshold rule's group fields."""
    at: KeyPath = ("rule", "alert_suppression")
    table = reader.get(rule, "alert_suppression", at[:1], dict, "a table")
    if table is None:
        return None
    if threshold_fields is not None:
        # Elastic's threshold rules suppress per threshold group, so only a duration is given.
        reader.only(table, {"duration"}, at)
        group_by = threshold_fields
    else:
        reader.only(table, {"group_by", "duration", "missing_fields_strategy"}, at)
        group_by = reader.texts(table, "group_by", at)
        if not 1 <= len(group_by) <= SUPPRESSION_MAX_FIELDS:
            reader.fail((*at, "group_by"), f"group_by needs 1 to {SUPPRESSION_MAX_FIELDS} fields")
    strategy = _MISSING_FIELDS.get(reader.text(table, "missing_fields_strategy", at, "suppress"))
    if strategy is None:
        reader.fail(
            (*at, "missing_fields_strategy"),
            'missing_fields_strategy must be "suppress" or "doNotSuppress"',
        )
        return None
    return Suppression(group_by, _duration_object(reader, table, at), strategy)


def _duration_object(reader: _Reader, table: Mapping[str, Any], at: KeyPath) -> timedelta | None:
    value = reader.get(table, "duration", at, dict, 'a table such as {value = 5, unit = "m"}')
    if value is None:
        return None
    return reader.convert((*at, "duration"), lambda: parse_duration_object(value))


def _read_exception(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> RuleException | None:
    reader.only(item, {"description", "expires", "conditions"}, at)
    if "conditions" not in item:
        reader.fail(at, "an exception needs conditions")
        return None
    conditions = _each(reader, item, "conditions", at, partial(_read_condition, reader))
    if conditions == ():
        reader.fail((*at, "conditions"), "an exception needs at least one condition")
    expires = _expiry(reader, item, at)
    if not conditions or (expires is None and "expires" in item):
        return None
    return RuleException(
        conditions=conditions,
        description=reader.text(item, "description", at),
        expires=expires,
    )


def _expiry(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> date | None:
    value = item.get("expires")
    if isinstance(value, str):
        return reader.convert((*at, "expires"), lambda: date.fromisoformat(value))
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    reader.fail((*at, "expires"), "expires must be a date such as 2026-12-31")
    return None


def _read_condition(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> Condition | None:
    reader.only(item, {"field", "values", "kind"}, at)
    name = reader.require(item, "field", at, str, "a string")
    values = reader.texts(item, "values", at, single=True)
    if not values:
        reader.fail((*at, "values") if "values" in item else at, "a condition needs values")
    written = reader.text(item, "kind", at, "value")
    kind = _CONDITION_KINDS.get(written)
    if kind is None:
        reader.fail((*at, "kind"), f"kind must be value, wildcard or cidr, not {written!r}")
        return None
    if kind == "cidr":
        for text in values:
            reader.convert((*at, "values"), partial(ipaddress.ip_network, text, strict=False))
    if name is None or not values:
        return None
    return Condition(field=name, values=values, kind=kind)


def _read_test(reader: _Reader, item: Mapping[str, Any], at: KeyPath) -> RuleTest | None:
    reader.only(item, {"name", "expect_alerts", "synthetic", "records"}, at)
    name = reader.require(item, "name", at, str, "a string")
    expected = reader.require(item, "expect_alerts", at, int, "a whole number")
    if expected is not None and expected < 0:
        reader.fail((*at, "expect_alerts"), "expect_alerts must not be negative")
    synthetic = _flag(reader, item, "synthetic", at, default=False)
    records = _complete(
        [
            _read_record(reader, text, i + 1, (*at, "records", i))
            for i, text in enumerate(reader.texts(item, "records", at))
        ]
    )
    if name is None or expected is None or synthetic is None or records is None:
        return None
    return RuleTest(name, records, expected, synthetic)


def _read_record(reader: _Reader, text: str, number: int, at: KeyPath) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        reader.fail(
            at,
            f"record {number} is not JSON: {err.msg} "
            f"(line {err.lineno}, column {err.colno} of the record)",
        )
        return None
    if not isinstance(record, dict):
        reader.fail(at, f"record {number} must be a JSON object")
        return None
    return record


def _each(
    reader: _Reader,
    table: Mapping[str, Any],
    key: str,
    at: KeyPath,
    read: Callable[[dict[str, Any], KeyPath], T | None],
) -> tuple[T, ...] | None:
    """Read every table of an array of tables; None when any of them is broken."""
    items = reader.tables(table, key, at)
    return _complete([read(item, (*at, key, i)) for i, item in enumerate(items)])


def _complete(items: Sequence[T | None]) -> tuple[T, ...] | None:
    """The items, or None when one is missing (its problem is recorded already)."""
    done = tuple(i for i in items if i is not None)
    return done if len(done) == len(items) else None


def _positive(
    reader: _Reader, table: Mapping[str, Any], key: str, at: KeyPath, *, default: int
) -> int | None:
    if key not in table:
        return default
    value = reader.get(table, key, at, int, "a whole number")
    if value is not None and value < 1:
        reader.fail((*at, key), f"{key} must be at least 1, not {value}")
        return None
    return value


def _flag(
    reader: _Reader, table: Mapping[str, Any], key: str, at: KeyPath, *, default: bool
) -> bool | None:
    if key not in table:
        return default
    return reader.get(table, key, at, bool, "true or false")


def _optional_duration(
    reader: _Reader, table: Mapping[str, Any], key: str, at: KeyPath
) -> timedelta | None:
    text = reader.get(table, key, at, str, "a duration such as 10m")
    return None if text is None else reader.convert((*at, key), lambda: parse_duration(text))


def _name(path: KeyPath, key: str | int) -> str:
    """A key as a reader finds it in the file: rule.threshold.value, tests[2].name."""
    text = ""
    for part in (*path, key):
        text += f"[{part + 1}]" if isinstance(part, int) else ("." if text else "") + part
    return text


def _table_name(path: KeyPath) -> str:
    return f"[{_name(path[:-1], path[-1])}]" if path else "the file"


def _toml_error(err: tomllib.TOMLDecodeError, source: str) -> RuleError:
    message = str(err)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found is None:
        return RuleError(f"not valid TOML: {message}", where=source)
    text = message[: found.start()]
    return RuleError(
        f"not valid TOML: {text}", where=source, line=int(found[1]), column=int(found[2])
    )


# --------------------------------------------------------------------------- locating keys


class _Locator:
    """Finds the line and column of a key path in TOML text, for messages about valid TOML.

    It follows table headers and arrays of tables, and skips multi-line strings; a path it cannot
    find exactly is placed at its nearest ancestor.
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(
        r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
    )
    _OPENING = re.compile(r"""\s*('''|""\"|'|")""")
    _PART = re.compile(r"[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'")

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._where: dict[KeyPath, tuple[int, int]] = {}
        self._scan()

    def find(self, path: KeyPath) -> tuple[int | None, int | None]:
        for end in range(len(path), 0, -1):
            if path[:end] in self._where:
                return self._where[path[:end]]
        return None, None

    def value_start(self, path: KeyPath) -> tuple[int, int]:
        """Where a string value's text begins: just after its opening quote, or on the next
        line when a multi-line string opens at the end of the key's line (TOML drops that
        newline)."""
        line, _ = self.find(path)
        if line is None:
            return 1, 1
        text = self._lines[line - 1]
        equals = text.find("=") + 1
        opening = self._OPENING.match(text, equals)
        if opening is None:
            return line, 1
        if len(opening[1]) == 3 and not text[opening.end() :].strip():
            return line + 1, 1
        return line, opening.end() + 1

    def _scan(self) -> None:
        table: KeyPath = ()
        counts: dict[KeyPath, int] = {}
        open_string: str | None = None
        for number, line in enumerate(self._lines, start=1):
            if open_string is not None:
                if open_string in line:
                    open_string = None
                continue
            header = self._HEADER.match(line)
            key = None if header else self._KEY.match(line)
            if header:
                table = self._enter(header[1] == "[[", self._parts(header[2]), counts)
                self._where.setdefault(table, (number, line.index("[") + 1))
            elif key:
                column = len(line) - len(line.lstrip()) + 1
                self._where.setdefault((*table, *self._parts(key[1])), (number, column))
            open_string = self._opens_string(line)

    def _enter(self, is_array: bool, parts: list[str], counts: dict[KeyPath, int]) -> KeyPath:
        resolved: KeyPath = ()
        for i, part in enumerate(parts):
            resolved = (*resolved, part)
            if is_array and i == len(parts) - 1:
                counts[resolved] = counts.get(resolved, 0) + 1
            if resolved in counts:
                resolved = (*resolved, counts[resolved] - 1)
        return resolved

    def _parts(self, dotted: str) -> list[str]:
        return [p.strip("\"'") for p in self._PART.findall(dotted)]

    @staticmethod
    def _opens_string(line: str) -> str | None:
        """The delimiter of a multi-line string that starts on this line and does not end on it."""
        starts = [(line.find(d), d) for d in ("'''", '"""') if d in line]
        if not starts:
            return None
        pos, delimiter = min(starts)
        return delimiter if delimiter not in line[pos + 3 :] else None


# --------------------------------------------------------------------------- writing


def _rule_table(rule: Rule) -> dict[str, Any]:
    table: dict[str, Any] = {
        "rule_id": rule.rule_id,
        "name": rule.name,
        "description": rule.description,
        "type": rule.type,
        "language": rule.language,
        "risk_score": rule.risk_score,
        "severity": rule.severity,
        "from": format_date_math(rule.lookback),
    }
    optional: dict[str, Any] = {
        "version": rule.version if rule.version != 1 else None,
        "enabled": False if not rule.enabled else None,
        "interval": format_duration(rule.interval) if rule.interval != DEFAULT_INTERVAL else None,
        "max_signals": rule.max_signals if rule.max_signals != DEFAULT_MAX_SIGNALS else None,
        "timestamp_override": rule.timestamp_override,
        "query": rule.query or None,
        "note": rule.note or None,
        "setup": rule.setup or None,
        "author": list(rule.author) or None,
        "false_positives": list(rule.false_positives) or None,
        "references": list(rule.references) or None,
        "tags": list(rule.tags) or None,
        "index": list(rule.index) or None,
        "investigation_fields": {"field_names": list(rule.investigation_fields)}
        if rule.investigation_fields
        else None,
        "threat": [_threat_table(t) for t in rule.threat] or None,
        "alert_suppression": _suppression_table(rule),
        "exceptions": [_exception_table(e) for e in rule.exceptions] or None,
    }
    table.update((k, v) for k, v in optional.items() if v is not None)
    table.update(_spec_tables(rule.spec))
    return table


def _spec_tables(spec: Spec) -> dict[str, Any]:
    match spec:
        case QuerySpec():
            return {}
        case ThresholdSpec():
            threshold: dict[str, Any] = {"field": list(spec.fields), "value": spec.value}
            if spec.cardinality:
                threshold["cardinality"] = [
                    {"field": c.field, "value": c.value} for c in spec.cardinality
                ]
            if spec.window is not None:
                threshold["window"] = format_duration(spec.window)
            return {"threshold": threshold}
        case NewTermsSpec():
            terms: dict[str, Any] = {
                "field": "new_terms_fields",
                "value": list(spec.fields),
                "history_window_start": [
                    {
                        "field": "history_window_start",
                        "value": format_date_math(spec.history_window),
                    }
                ],
            }
            if spec.learning_period is not None:
                terms["learning_period"] = format_duration(spec.learning_period)
            return {"new_terms": terms}
        case SequenceSpec():
            return {
                "sequence": {
                    "by": list(spec.by),
                    "maxspan": format_duration(spec.maxspan),
                    "steps": [{"query": s.query} for s in spec.steps],
                }
            }
    raise AssertionError(f"unhandled spec {spec!r}")


def _threat_table(threat: Threat) -> dict[str, Any]:
    table: dict[str, Any] = {"framework": threat.framework}
    if threat.techniques:
        table["technique"] = [_technique_table(t) for t in threat.techniques]
    table["tactic"] = _without_empty(
        {"id": threat.tactic_id, "name": threat.tactic_name, "reference": threat.tactic_reference}
    )
    return table


def _technique_table(technique: Technique) -> dict[str, Any]:
    table = _without_empty(
        {"id": technique.id, "name": technique.name, "reference": technique.reference}
    )
    if technique.subtechniques:
        table["subtechnique"] = [_technique_table(s) for s in technique.subtechniques]
    return table


def _suppression_table(rule: Rule) -> dict[str, Any] | None:
    suppression = rule.suppression
    if suppression is None:
        return None
    table: dict[str, Any] = {}
    if rule.type != "threshold":
        table["group_by"] = list(suppression.group_by)
        table["missing_fields_strategy"] = suppression.missing_fields_strategy
    if suppression.duration is not None:
        table["duration"] = format_duration_object(suppression.duration)
    return table


def _exception_table(exception: RuleException) -> dict[str, Any]:
    table: dict[str, Any] = {}
    if exception.description:
        table["description"] = exception.description
    if exception.expires is not None:
        table["expires"] = exception.expires
    table["conditions"] = [
        {"field": c.field, "values": list(c.values), "kind": c.kind} for c in exception.conditions
    ]
    return table


def _test_table(test: RuleTest) -> dict[str, Any]:
    return {
        "name": test.name,
        "expect_alerts": test.expect_alerts,
        "synthetic": test.synthetic,
        "records": [json.dumps(r, indent=2, ensure_ascii=False) + "\n" for r in test.records],
    }


def _without_empty(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v != ""}


# --------------------------------------------------------------------------- TOML rendering

# Lists of tables under these keys read better inline than as [[arrays.of.tables]].
_INLINE_TABLE_LISTS = frozenset({"conditions"})
_LINE_WIDTH = 100
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _render_document(doc: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _render_table(lines, (), doc, array=False)
    return "\n".join(lines).strip("\n") + "\n"


def _render_table(
    lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], *, array: bool
) -> None:
    plain = {k: v for k, v in table.items() if not _is_table(k, v) and not _is_table_list(k, v)}
    if path:
        dotted = ".".join(_key(p) for p in path)
        lines.extend(["", f"[[{dotted}]]" if array else f"[{dotted}]"])
    for key in sorted(plain, key=lambda k: (k == "query", k)):
        if key == "query":
            lines.append("")  # Elastic sets the query apart from the other keys
        lines.append(f"{_key(key)} = {_value(plain[key], len(key) + 3)}")
    for key, value in table.items():
        if _is_table_list(key, value):
            for item in value:
                _render_table(lines, (*path, key), item, array=True)
    for key, value in table.items():
        if _is_table(key, value):
            _render_table(lines, (*path, key), value, array=False)


def _is_table(key: str, value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_list(key: str, value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) for v in value)
        and key not in _INLINE_TABLE_LISTS
    )


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _basic_string(key)


def _value(value: Any, used: int) -> str:
    """One TOML value; `used` is how much of the line the key already takes."""
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return _array(value, used)
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v, _LINE_WIDTH)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _array(items: Sequence[Any], used: int) -> str:
    rendered = [_value(v, _LINE_WIDTH) for v in items]
    inline = "[" + ", ".join(rendered) + "]"
    if "\n" not in inline and used + len(inline) <= _LINE_WIDTH:
        return inline
    return "[\n" + "".join(f"    {r},\n" for r in rendered) + "]"


def _float(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _string(text: str) -> str:
    if "\n" not in text:
        return _basic_string(text)
    if "'''" not in text and "\r" not in text and not _CONTROL.search(text):
        return "'''\n" + text + "'''"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    escaped = _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", escaped)
    return '"""\n' + escaped + '"""'


def _basic_string(text: str) -> str:
    # JSON's string escapes are a subset of TOML's; only DEL is left for TOML to forbid.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
