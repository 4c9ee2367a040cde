"""What makes each rule type different: its type and language check, its KQL queries, and its own
table (`[rule.threshold]`, new terms, `[rule.sequence]`), read into the model's `Spec`.

Kept apart from the rest of a rule's reading because these keys follow per-type rules: a key that
belongs to another type is an error, and each type has its own limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from types import MappingProxyType
from typing import Any

from trailhound.rules import kql
from trailhound.rules.duration import parse_date_math, parse_duration
from trailhound.rules.elastic_format import (
    NEW_TERMS_MAX_FIELDS,
    REFUSED_TYPES,
    RUNNABLE_TYPES,
    THRESHOLD_MAX_FIELDS,
    THRESHOLD_MAX_FIELDS_BEFORE_9_2,
)
from trailhound.rules.kql_ast import Node
from trailhound.rules.model import (
    BaselineSpec,
    Cardinality,
    CorrelationSpec,
    FactSource,
    ItemCount,
    NewTermsSpec,
    QuerySpec,
    SequenceSpec,
    SequenceStep,
    Spec,
    ThresholdSpec,
)
from trailhound.rules.toml_reader import KeyPath, TomlReader, table_name

# Keys of [rule] that only one rule type may have, with that type.
_SPEC_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "threshold": "threshold",
        "new_terms": "new_terms",
        "new_terms_fields": "new_terms",
        "history_window_start": "new_terms",
        "sequence": "sequence",
        "baseline": "baseline",
        "correlation": "correlation",
    }
)


def read_kind(reader: TomlReader, rule: Mapping[str, Any]) -> str | None:
    """The rule type and language, when trailhound can run them ("eql" for EQL rules)."""
    at: KeyPath = ("rule",)
    kind = reader.require(rule, "type", at, str, "a string")
    language = reader.get(rule, "language", at, str, "a string")
    if kind in REFUSED_TYPES:
        reader.fail((*at, "type"), REFUSED_TYPES[kind])
        return None
    if kind == "eql" or language == "eql":
        if kind != "eql" or language not in (None, "eql"):
            reader.fail((*at, "language"), 'EQL rules are written type = "eql", language = "eql"')
            return None
        return kind
    if kind is not None and kind not in RUNNABLE_TYPES:
        reader.fail(
            (*at, "type"),
            f"unsupported rule type {kind!r}: trailhound runs {', '.join(RUNNABLE_TYPES)} rules",
        )
        return None
    if language not in (None, "kuery"):
        reader.fail(
            (*at, "language"),
            f"unsupported query language {language!r}: trailhound reads KQL "
            '(language = "kuery") and EQL (language = "eql")',
        )
        return None
    for key, owner in _SPEC_KEYS.items():
        if key in rule and kind is not None and owner != kind:
            reader.fail((*at, key), f"rule.{key} belongs to {owner} rules, not {kind} rules")
    return kind


def read_query(reader: TomlReader, text: str, path: KeyPath) -> Node | None:
    """A KQL query string; its syntax errors point at the file's own line and column."""
    return reader.embedded(
        path, lambda line, column: kql.parse(text, where=reader.source, line=line, column=column)
    )


def read_spec(
    reader: TomlReader, rule: Mapping[str, Any], kind: str, metadata: object
) -> Spec | None:
    """The part of the rule that only its type has; `metadata` holds the stack version."""
    match kind:
        case "query":
            return QuerySpec()
        case "threshold":
            return _read_threshold(reader, rule, _threshold_cap(metadata))
        case "new_terms":
            return _read_new_terms(reader, rule)
        case "sequence":
            return _read_sequence(reader, rule)
        case "baseline":
            return _read_baseline(reader, rule)
        case "correlation":
            return _read_correlation(reader, rule)
    raise AssertionError(f"unhandled rule type {kind}")


def _threshold_cap(metadata: object) -> int:
    stack = metadata.get("min_stack_version") if isinstance(metadata, dict) else None
    if isinstance(stack, str) and _version_tuple(stack) < (9, 2):
        return THRESHOLD_MAX_FIELDS_BEFORE_9_2
    return THRESHOLD_MAX_FIELDS


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _read_threshold(reader: TomlReader, rule: Mapping[str, Any], cap: int) -> ThresholdSpec | None:
    at: KeyPath = ("rule", "threshold")
    table = reader.require(rule, "threshold", at[:1], dict, "a table")
    if table is None:
        return None
    reader.only(table, {"field", "value", "cardinality", "window", "count"}, at)
    fields = reader.texts(table, "field", at, single=True)
    if len(fields) > cap:
        reader.fail(
            (*at, "field"), f"a threshold groups by at most {cap} fields, not {len(fields)}"
        )
    value = reader.require(table, "value", at, int, "a whole number")
    if value is not None and value < 1:
        reader.fail((*at, "value"), f"threshold value must be at least 1, not {value}")
    cardinality = reader.each(table, "cardinality", at, partial(_read_cardinality, reader))
    window = _optional_duration(reader, table, "window", at)
    count = _item_count(reader, table, at)
    if value is None or cardinality is None or (window is None and "window" in table):
        return None
    if count is None and "count" in table:
        return None
    return ThresholdSpec(fields, value, cardinality, window, count)


def _item_count(reader: TomlReader, table: Mapping[str, Any], at: KeyPath) -> ItemCount | None:
    """`count = { field = "...", values = [...] }`: count an event once per such value."""
    item = reader.get(table, "count", at, dict, "a table")
    if item is None:
        return None
    here = (*at, "count")
    reader.only(item, {"field", "values"}, here)
    name = reader.require(item, "field", here, str, "a string")
    values = reader.texts(item, "values", here, single=True)
    if not values:
        reader.fail(here, "count needs at least one value in 'values'")
    return None if name is None or not values else ItemCount(name, values)


_BASELINE_KEYS = {
    "field", "window", "history", "min_count", "min_history", "factor", "deviations", "count",
}  # fmt: skip


def _read_baseline(reader: TomlReader, rule: Mapping[str, Any]) -> BaselineSpec | None:
    at: KeyPath = ("rule", "baseline")
    table = reader.require(rule, "baseline", at[:1], dict, "a table")
    if table is None:
        return None
    reader.only(table, _BASELINE_KEYS, at)
    fields = reader.texts(table, "field", at, single=True)
    spans = {k: _required_duration(reader, table, k, at) for k in ("window", "history")}
    warmup = _optional_duration(reader, table, "min_history", at) or timedelta(0)
    least = reader.positive(table, "min_count", at, default=1)
    factor, deviations = (_ratio(reader, table, k, at) for k in ("factor", "deviations"))
    count = _item_count(reader, table, at)
    window, history = spans["window"], spans["history"]
    if window is None or history is None or least is None or not fields:
        if not fields:
            reader.fail(at, "[rule.baseline] needs at least one group field in 'field'")
        return None
    if not window <= warmup <= history and "min_history" in table:
        reader.fail((*at, "min_history"), "min_history must lie between window and history")
        return None
    if factor is None and deviations is None:
        reader.fail(at, "[rule.baseline] needs 'factor', 'deviations' or both")
        return None
    return BaselineSpec(fields, window, history, least, warmup, factor, deviations, count)


def _required_duration(
    reader: TomlReader, table: Mapping[str, Any], key: str, at: KeyPath
) -> timedelta | None:
    if key not in table:
        reader.fail(at, f"{table_name(at)} is missing required key {key!r}")
        return None
    return _optional_duration(reader, table, key, at)


def _ratio(reader: TomlReader, table: Mapping[str, Any], key: str, at: KeyPath) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        reader.fail((*at, key), f"{key} must be a positive number, not {value!r}")
        return None
    return float(value)


def _read_correlation(reader: TomlReader, rule: Mapping[str, Any]) -> CorrelationSpec | None:
    at: KeyPath = ("rule", "correlation")
    table = reader.require(rule, "correlation", at[:1], dict, "a table")
    if table is None:
        return None
    reader.only(table, {"key", "remember", "facts"}, at)
    key = reader.require(table, "key", at, str, "a field name")
    remember = _required_duration(reader, table, "remember", at)
    if "facts" not in table:
        reader.fail(at, "[rule.correlation] is missing required key 'facts'")
    facts = reader.each(table, "facts", at, partial(_read_fact, reader))
    if key is None or remember is None or not facts:
        return None
    return CorrelationSpec(key=key, remember=remember, facts=facts)


def _read_fact(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> FactSource | None:
    reader.only(item, {"query", "key", "value"}, at)
    query = reader.require(item, "query", at, str, "a string")
    key = reader.require(item, "key", at, str, "a field name")
    value = reader.require(item, "value", at, str, "a field name")
    ast = None if query is None else read_query(reader, query, (*at, "query"))
    if query is None or ast is None or key is None or value is None:
        return None
    return FactSource(query, ast, key, value)


def _read_cardinality(
    reader: TomlReader, item: Mapping[str, Any], at: KeyPath
) -> Cardinality | None:
    reader.only(item, {"field", "value"}, at)
    name = reader.require(item, "field", at, str, "a string")
    count = reader.require(item, "value", at, int, "a whole number")
    if count is not None and count < 1:
        reader.fail((*at, "value"), f"cardinality value must be at least 1, not {count}")
        return None
    return None if name is None or count is None else Cardinality(field=name, value=count)


def _read_new_terms(reader: TomlReader, rule: Mapping[str, Any]) -> NewTermsSpec | None:
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


def _new_terms_table(reader: TomlReader, rule: Mapping[str, Any]) -> NewTermsSpec | None:
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
    reader: TomlReader, table: Mapping[str, Any], key: str, at: KeyPath
) -> tuple[str, ...] | None:
    if key not in table:
        reader.fail(at, f"{table_name(at)} is missing required key {key!r}")
        return None
    fields = reader.texts(table, key, at)
    if not 1 <= len(fields) <= NEW_TERMS_MAX_FIELDS:
        reader.fail(
            (*at, key), f"new terms need 1 to {NEW_TERMS_MAX_FIELDS} fields, not {len(fields)}"
        )
        return None
    return fields


def _history_window(reader: TomlReader, table: Mapping[str, Any], at: KeyPath) -> timedelta | None:
    if "history_window_start" not in table:
        reader.fail(at, f"{table_name(at)} is missing required key 'history_window_start'")
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


def _read_sequence(reader: TomlReader, rule: Mapping[str, Any]) -> SequenceSpec | None:
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
    steps = reader.each(table, "steps", at, partial(_read_step, reader))
    count = len(reader.tables(table, "steps", at))
    if "steps" in table and count < 2:
        reader.fail((*at, "steps"), f"a sequence needs at least 2 steps, not {count}")
    if maxspan is None or steps is None or count < 2:
        return None
    return SequenceSpec(by=by, maxspan=maxspan, steps=steps)


def _read_step(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> SequenceStep | None:
    reader.only(item, {"query"}, at)
    query = reader.require(item, "query", at, str, "a string")
    ast = None if query is None else read_query(reader, query, (*at, "query"))
    return None if query is None or ast is None else SequenceStep(query=query, ast=ast)


def _optional_duration(
    reader: TomlReader, table: Mapping[str, Any], key: str, at: KeyPath
) -> timedelta | None:
    text = reader.get(table, key, at, str, "a duration such as 10m")
    return None if text is None else reader.convert((*at, key), lambda: parse_duration(text))
