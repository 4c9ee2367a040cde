"""Elastic detection-rules TOML into the typed `Rule`: one file is one rule.

Reading collects every problem of a file, each with its line, instead of stopping at the first.
Keys the model does not interpret are kept in `Rule.extra` (`extra["metadata"]`, `extra["rule"]`,
and any other top-level table) so that writing a rule back loses nothing.

trailhound's own keys live beside Elastic's: `[rule.threshold] window`, `[rule.new_terms]
learning_period`, `type = "sequence"` with `[rule.sequence]`, `[[rule.exceptions]]`, `enabled`,
and top-level `[[tests]]` whose `records` are raw CloudTrail records as JSON text.

This module reads; `elastic_write` writes, `elastic_specs` reads the per-type tables, and
`toml_reader` supplies the problem-collecting reader and the key positions. `dump_rule` and
`key_location` are re-exported here so that callers keep importing the rule format from one place.
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from types import MappingProxyType
from typing import Any, Literal

from trailhound.errors import RuleError
from trailhound.rules import attack, kql, kql_ast
from trailhound.rules.duration import parse_date_math, parse_duration, parse_duration_object
from trailhound.rules.elastic_filters import FilterError, filters_node
from trailhound.rules.elastic_format import (
    DEFAULT_INTERVAL,
    DEFAULT_LOOKBACK,
    DEFAULT_MAX_SIGNALS,
    RUNNABLE_TYPES,
    SEVERITIES,
    SUPPRESSION_MAX_FIELDS,
)
from trailhound.rules.elastic_specs import read_kind, read_query, read_spec
from trailhound.rules.elastic_write import dump_rule
from trailhound.rules.model import (
    Condition,
    QuerySpec,
    Rule,
    RuleException,
    RuleTest,
    SequenceSpec,
    SequenceStep,
    Suppression,
    Technique,
    Threat,
    ThresholdSpec,
)
from trailhound.rules.parameters import read_parameters, read_values
from trailhound.rules.toml_reader import KeyPath, TomlReader, complete, key_location, toml_error

__all__ = [
    "RUNNABLE_TYPES",
    "RuleReport",
    "dump_rule",
    "key_location",
    "load_rule_text",
    "read_exception",
    "read_rule_text",
]

# Keys of [rule] that the model interprets; every other key is kept in extra["rule"].
# fmt: off
_RULE_KEYS = frozenset((
    "rule_id", "name", "description", "version", "severity", "risk_score", "type", "language",
    "query", "from", "interval", "max_signals", "timestamp_override", "note", "setup",
    "false_positives", "references", "tags", "author", "index", "investigation_fields", "threat",
    "alert_suppression", "exceptions", "enabled", "threshold", "new_terms", "new_terms_fields",
    "history_window_start", "sequence", "baseline", "correlation", "parameters",
))
# fmt: on
_MISSING_FIELDS: Mapping[str, Literal["suppress", "doNotSuppress"]] = MappingProxyType(
    {"suppress": "suppress", "doNotSuppress": "doNotSuppress"}
)
_CONDITION_KINDS: Mapping[str, Literal["value", "wildcard", "cidr"]] = MappingProxyType(
    {"value": "value", "wildcard": "wildcard", "cidr": "cidr"}
)


@dataclass(frozen=True, slots=True)
class RuleReport:
    """The outcome of reading one rule file: the rule, or every problem found in it."""

    source: str
    rule: Rule | None
    errors: tuple[RuleError, ...] = ()
    notes: tuple[RuleError, ...] = ()  # no problem, but worth saying (a rule left out, say)


def read_rule_text(text: str, *, source: str) -> RuleReport:
    """Read one rule file's text, collecting every problem rather than raising."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return RuleReport(source, None, (toml_error(err, source),))
    reader = TomlReader(text, source)
    rule = _read_document(reader, doc)
    if reader.errors:
        ordered = sorted(reader.errors, key=lambda e: (e.line or 0, e.column or 0))
        return RuleReport(source, None, tuple(ordered))
    return RuleReport(source, rule)


def load_rule_text(text: str, *, source: str) -> Rule:
    """Read one rule file's text; raise the first problem as a RuleError with its location."""
    report = read_rule_text(text, source=source)
    if report.rule is None:
        raise report.errors[0]
    return report.rule


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


def _read_document(reader: TomlReader, doc: dict[str, Any]) -> Rule | None:
    rule_table = doc.get("rule")
    if not isinstance(rule_table, dict):
        reader.fail((), "a rule file needs a [rule] table")
        return None
    parts = _Parts()
    parts.put("source", reader.source)
    _read_identity(reader, rule_table, parts)
    _read_schedule(reader, rule_table, parts)
    _read_lists(reader, rule_table, parts)
    kind = read_kind(reader, rule_table)
    if kind is not None:
        _read_query_and_spec(reader, rule_table, kind, doc.get("metadata"), parts)
    read_threat = partial(_read_threat, reader)
    parts.put("threat", reader.each(rule_table, "threat", ("rule",), read_threat))
    _apply_filters(reader, rule_table, parts)
    groups = _threshold_groups(kind, parts.values.get("spec"))
    parts.values["suppression"] = _read_suppression(reader, rule_table, groups)
    read_one_exception = partial(read_exception, reader)
    parts.put("exceptions", reader.each(rule_table, "exceptions", ("rule",), read_one_exception))
    parts.put("parameters", read_parameters(reader, rule_table))
    parts.put("tests", reader.each(doc, "tests", (), partial(_read_test, reader)))
    parts.put("extra", _extra(doc))
    if reader.errors or not parts.complete:
        return None
    return Rule(**parts.values)


def _apply_filters(reader: TomlReader, rule: Mapping[str, Any], parts: _Parts) -> None:
    """Kibana's `[[rule.filters]]` narrow the query as Elastic applies them. They stay in
    `extra` as written, so the rule is written back unchanged."""
    filters = rule.get("filters")
    if not filters or "ast" not in parts.values:
        return
    at: KeyPath = ("rule", "filters")
    if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
        reader.fail(at, "rule.filters must be an array of tables")
        return
    try:
        node = filters_node(filters)
    except (FilterError, KeyError) as err:
        reader.fail(at, f"a filter cannot be applied: {err}")
        return
    if node is not None:
        parts.values["ast"] = kql_ast.And((parts.values["ast"], node))


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


def _read_identity(reader: TomlReader, rule: Mapping[str, Any], parts: _Parts) -> None:
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
    parts.put("version", reader.positive(rule, "version", at, default=1))
    parts.put("enabled", reader.flag(rule, "enabled", at, default=True))
    for key in ("note", "setup"):
        parts.put(key, reader.text(rule, key, at))
    override = reader.get(rule, "timestamp_override", at, str, "a string")
    parts.values["timestamp_override"] = override


def _read_schedule(reader: TomlReader, rule: Mapping[str, Any], parts: _Parts) -> None:
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
    parts.put("max_signals", reader.positive(rule, "max_signals", at, default=DEFAULT_MAX_SIGNALS))


def _read_lists(reader: TomlReader, rule: Mapping[str, Any], parts: _Parts) -> None:
    at: KeyPath = ("rule",)
    for key in ("false_positives", "references", "tags", "author", "index"):
        parts.put(key, reader.texts(rule, key, at))
    parts.put("investigation_fields", _investigation_fields(reader, rule))


def _investigation_fields(reader: TomlReader, rule: Mapping[str, Any]) -> tuple[str, ...]:
    # Elastic has written these both as a plain list and as a table of `field_names`.
    value = rule.get("investigation_fields")
    at: KeyPath = ("rule",)
    if isinstance(value, dict):
        reader.only(value, {"field_names"}, (*at, "investigation_fields"))
        return reader.texts(value, "field_names", (*at, "investigation_fields"))
    return reader.texts(rule, "investigation_fields", at)


def _read_query_and_spec(
    reader: TomlReader, rule: Mapping[str, Any], kind: str, metadata: object, parts: _Parts
) -> None:
    at: KeyPath = ("rule",)
    if kind == "eql":
        read_eql_rule(reader, rule, parts.values.get("lookback", DEFAULT_LOOKBACK), parts)
        return
    parts.put("language", "kuery")
    if kind == "sequence" and "query" not in rule:
        # A sequence's steps carry the queries; without a shared filter every event qualifies.
        parts.put("query", "")
        parts.put("ast", kql.MATCH_ALL)
    else:
        query = reader.require(rule, "query", at, str, "a string")
        parts.put("query", query)
        parts.put("ast", None if query is None else read_query(reader, query, (*at, "query")))
    parts.put("spec", read_spec(reader, rule, kind, metadata))


def read_eql_rule(
    reader: TomlReader, rule: Mapping[str, Any], lookback: timedelta, parts: _Parts
) -> None:
    """An EQL rule's query: a filter, or a sequence whose span defaults to the look-back."""
    # imported here: the EQL parser takes a fifth of a second to load, which KQL rules skip
    from trailhound.rules.eql import read_eql

    at: KeyPath = ("rule",)
    parts.put("language", "eql")
    query = reader.require(rule, "query", at, str, "a string")
    category = rule.get("event_category_override", "event.category")
    if query is None or not isinstance(category, str):
        parts.complete = False
        return
    read = partial(read_eql, query, category_field=category, where=reader.source)
    parsed = reader.embedded((*at, "query"), lambda line, column: read(line=line, column=column))
    if parsed is None:
        parts.complete = False
        return
    parts.put("query", query)
    parts.put("ast", parsed.filter)
    sequence = parsed.sequence
    if sequence is None:
        parts.put("spec", QuerySpec())
        return
    steps = tuple(SequenceStep(query="", ast=step) for step in sequence.steps)
    span = sequence.maxspan or lookback
    parts.put("spec", SequenceSpec(by=sequence.by, maxspan=span, steps=steps))


def _read_threat(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> Threat | None:
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
    techniques = reader.each(item, "technique", at, partial(_read_technique, reader, framework))
    if techniques is None:
        return None
    return Threat(framework, tactic_id, name, reference, techniques)


def _read_technique(
    reader: TomlReader,
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
    subs = reader.each(item, "subtechnique", at, read_sub)
    return None if subs is None else Technique(technique_id, name, reference, subs)


def _entry(
    reader: TomlReader, item: Mapping[str, Any], at: KeyPath, allowed: set[str]
) -> tuple[str | None, str | None, str]:
    reader.only(item, allowed, at)
    entry_id = reader.require(item, "id", at, str, "a string")
    name = reader.require(item, "name", at, str, "a string")
    return entry_id, name, reader.text(item, "reference", at)


def _read_suppression(
    reader: TomlReader, rule: Mapping[str, Any], threshold_fields: tuple[str, ...] | None
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


def _duration_object(reader: TomlReader, table: Mapping[str, Any], at: KeyPath) -> timedelta | None:
    value = reader.get(table, "duration", at, dict, 'a table such as {value = 5, unit = "m"}')
    if value is None:
        return None
    return reader.convert((*at, "duration"), lambda: parse_duration_object(value))


def read_exception(
    reader: TomlReader, item: Mapping[str, Any], at: KeyPath
) -> RuleException | None:
    """One exception table at `at`: a rule's `[[rule.exceptions]]` entry, or an entry of the
    exceptions file, which shares this reader so both accept and refuse the same conditions."""
    reader.only(item, {"description", "expires", "conditions"}, at)
    if "conditions" not in item:
        reader.fail(at, "an exception needs conditions")
        return None
    conditions = reader.each(item, "conditions", at, partial(_read_condition, reader))
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


def _expiry(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> date | None:
    value = item.get("expires")
    if isinstance(value, str):
        return reader.convert((*at, "expires"), lambda: date.fromisoformat(value))
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    reader.fail((*at, "expires"), "expires must be a date such as 2026-12-31")
    return None


def _read_condition(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> Condition | None:
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


def _read_test(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> RuleTest | None:
    reader.only(item, {"name", "expect_alerts", "synthetic", "records", "parameters"}, at)
    values = read_values(reader, item, at)
    name = reader.require(item, "name", at, str, "a string")
    expected = reader.require(item, "expect_alerts", at, int, "a whole number")
    if expected is not None and expected < 0:
        reader.fail((*at, "expect_alerts"), "expect_alerts must not be negative")
    synthetic = reader.flag(item, "synthetic", at, default=False)
    records = complete(
        [
            _read_record(reader, text, i + 1, (*at, "records", i))
            for i, text in enumerate(reader.texts(item, "records", at))
        ]
    )
    if name is None or expected is None or synthetic is None or records is None:
        return None
    if values is None:
        return None
    return RuleTest(name, records, expected, synthetic, values)


def _read_record(reader: TomlReader, text: str, number: int, at: KeyPath) -> dict[str, Any] | None:
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
