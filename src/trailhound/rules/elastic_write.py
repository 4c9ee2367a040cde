"""A `Rule` back to Elastic detection-rules TOML, with trailhound's own keys beside Elastic's.

Written so that `trailhound.rules.elastic.load_rule_text` reads the text back as an equal rule:
keys the model does not interpret come back from `Rule.extra`, and values equal to Elastic's
defaults are left out as Elastic's own files leave them out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from trailhound.rules.duration import format_date_math, format_duration, format_duration_object
from trailhound.rules.elastic_format import DEFAULT_INTERVAL, DEFAULT_MAX_SIGNALS
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    ItemCount,
    NewTermsSpec,
    QuerySpec,
    Rule,
    RuleException,
    RuleTest,
    SequenceSpec,
    Spec,
    Technique,
    Threat,
    ThresholdSpec,
)
from trailhound.rules.parameters import parameters_table


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


def _rule_table(rule: Rule) -> dict[str, Any]:
    table: dict[str, Any] = {
        "rule_id": rule.rule_id,
        "name": rule.name,
        "description": rule.description,
        # an EQL rule's type and sequence live in its query
        "type": "eql" if rule.language == "eql" else rule.type,
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
        "parameters": parameters_table(rule),
    }
    table.update((k, v) for k, v in optional.items() if v is not None)
    if rule.language != "eql":
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
            if spec.count is not None:
                threshold["count"] = _count_table(spec.count)
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
        case BaselineSpec():
            return {"baseline": _baseline_table(spec)}
        case CorrelationSpec():
            facts = [{"query": f.query, "key": f.key, "value": f.value} for f in spec.facts]
            remember = format_duration(spec.remember)
            return {"correlation": {"key": spec.key, "remember": remember, "facts": facts}}
    raise AssertionError(f"unhandled spec {spec!r}")


def _count_table(count: ItemCount) -> dict[str, Any]:
    return {"field": count.field, "values": list(count.values)}


def _baseline_table(spec: BaselineSpec) -> dict[str, Any]:
    table: dict[str, Any] = {
        "field": list(spec.fields),
        "window": format_duration(spec.window),
        "history": format_duration(spec.history),
        "min_count": spec.min_count,
    }
    if spec.min_history:
        table["min_history"] = format_duration(spec.min_history)
    for key in ("factor", "deviations"):
        if (value := getattr(spec, key)) is not None:
            table[key] = value
    if spec.count is not None:
        table["count"] = _count_table(spec.count)
    return table


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
    table: dict[str, Any] = {
        "name": test.name,
        "expect_alerts": test.expect_alerts,
        "synthetic": test.synthetic,
    }
    if test.parameters:
        table["parameters"] = {k: list(v) for k, v in test.parameters.items()}
    table["records"] = [json.dumps(r, indent=2, ensure_ascii=False) + "\n" for r in test.records]
    return table


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
