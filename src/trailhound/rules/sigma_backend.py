"""A pySigma backend whose output is trailhound's predicate tree, not query text.

pySigma parses the rule, applies its modifiers and the CloudTrail field pipeline, and hands each
part of the condition to a `convert_condition_*` method; each returns a `kql_ast.Node`, so a
Sigma rule compiles through the same SQL as a KQL one. Sigma's meaning is kept: plain values
ignore letter case (`|cased` does not), `*` and `?` are wildcards, `|re` searches anywhere in
the value, `|cidr` reads the source IP. What trailhound cannot run is refused with a
`SigmaFeatureError` that names it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, NoReturn

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from trailhound.cloudtrail.schema import BY_NAME, Kind, flattened_parent
from trailhound.rules import kql_ast as k

_RANGE_OPS: dict[CompareOperators, Literal["<", "<=", ">", ">="]] = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
}
# Sigma's `fieldref` with `startswith`/`endswith` flags as a comparison of two fields
_FIELDREF_OPS: dict[tuple[bool, bool], Literal["equals", "contains", "startswith", "endswith"]] = {
    (False, False): "equals",
    (True, False): "startswith",
    (False, True): "endswith",
    (True, True): "contains",
}
# RE2's inline flags for Sigma's regular expression flags other than ignoring case
_RE_FLAGS = {SigmaRegularExpressionFlag.MULTILINE: "m", SigmaRegularExpressionFlag.DOTALL: "s"}
# The column a Sigma `|cidr` test reads for a field that holds addresses as text.
_IP_OF = {"source.address": "source.ip"}


def refuse(message: str) -> NoReturn:
    raise SigmaFeatureNotSupportedByBackendError(message)


class TreeBackend(Backend):
    """Sigma condition -> `kql_ast.Node`."""

    name: ClassVar[str] = "trailhound"
    formats: ClassVar[dict[str, str]] = {"default": "trailhound predicate tree"}

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> k.Node:
        items = tuple(self.convert_condition(a, state) for a in cond.args)
        return items[0] if len(items) == 1 else k.Or(items)

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> k.Node:
        items = tuple(self.convert_condition(a, state) for a in cond.args)
        return items[0] if len(items) == 1 else k.And(items)

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> k.Node:
        return k.Not(self.convert_condition(cond.args[0], state))

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> NoReturn:
        raise AssertionError("in-expressions are off for this backend")

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        return k.Glob(_field(cond), _parts(cond.value), case_insensitive=True)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        return k.Glob(_field(cond), _parts(cond.value), case_insensitive=False)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        assert isinstance(cond.value, SigmaNumber)
        return k.Match(_field(cond), k.Value((str(cond.value.number),), quoted=True))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        assert isinstance(cond.value, SigmaBool)
        text = "true" if cond.value.boolean else "false"
        return k.Match(_field(cond), k.Value((text,), quoted=True))

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        inline = "".join(sorted(_RE_FLAGS[f] for f in value.flags if f in _RE_FLAGS))
        pattern = (f"(?{inline})" if inline else "") + value.regexp.to_plain()
        try:
            re.compile(pattern)
        except re.error as err:
            refuse(f"regular expression {pattern!r} does not compile: {err}")
        folded = SigmaRegularExpressionFlag.IGNORECASE in value.flags
        return k.Regex(_field(cond), pattern, case_insensitive=folded, anchored=False)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        assert isinstance(cond.value, SigmaCIDRExpression)
        field = _field(cond)
        field = _IP_OF.get(field, field)
        column = BY_NAME.get(field)
        if column is None or column.kind is not Kind.IP:
            refuse(f"|cidr needs a field of IP addresses, such as sourceIPAddress, not {field!r}")
        return k.Match(field, k.Value((str(cond.value.network),), quoted=True))

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        number = k.Value((str(value.number.number),), quoted=True)
        field = _field(cond)
        column = BY_NAME.get(field)
        if column is None or column.kind not in (Kind.LONG, Kind.DATE):
            modifier = value.op.name.lower()
            refuse(f"|{modifier} compares numbers, and {field!r} is not a number field")
        if value.op is CompareOperators.NEQ:
            return k.Not(k.Match(field, number))
        return k.Range(field, _RANGE_OPS[value.op], number)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        ref = cond.value
        assert isinstance(ref, SigmaFieldReference)
        op = _FIELDREF_OPS[(ref.starts_with, ref.ends_with)]
        other = _known(_mapped(ref.field))
        return k.FieldCompare(_field(cond), op, other, case_insensitive=True)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        return k.Not(k.Exists(_field(cond)))

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        return k.Exists(_field(cond))

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> k.Node:
        return k.Not(k.Exists(_field(cond)))

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: Any) -> NoReturn:
        refuse("the minute/hour/day/week/month/year modifiers are not supported")

    def convert_condition_field_eq_query_expr(self, cond: Any, state: Any) -> NoReturn:
        refuse("query expressions (expand placeholders into a query) are not supported")

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: Any) -> NoReturn:
        refuse(f"a keyword without a field ({cond.value}) is not supported: name the field")

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: Any) -> NoReturn:
        refuse(f"a keyword without a field ({cond.value}) is not supported: name the field")

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: Any) -> NoReturn:
        refuse("a regular expression without a field is not supported: name the field")

    def convert_condition_query_expr(self, cond: Any, state: Any) -> NoReturn:
        refuse("query expressions are not supported")

    # Correlation rules are read by `sigma_correlation` from the converted rules they refer to.
    def convert_correlation_event_count_rule(self, *args: Any, **kw: Any) -> NoReturn:
        raise AssertionError("correlations are read by sigma_correlation")

    convert_correlation_value_count_rule = convert_correlation_event_count_rule
    convert_correlation_temporal_rule = convert_correlation_event_count_rule
    convert_correlation_temporal_ordered_rule = convert_correlation_event_count_rule
    convert_correlation_extended_temporal_rule = convert_correlation_event_count_rule
    convert_correlation_extended_temporal_ordered_rule = convert_correlation_event_count_rule
    convert_correlation_value_sum_rule = convert_correlation_event_count_rule
    convert_correlation_value_avg_rule = convert_correlation_event_count_rule
    convert_correlation_value_percentile_rule = convert_correlation_event_count_rule
    convert_correlation_value_median_rule = convert_correlation_event_count_rule

    def apply_pipeline(self, rule: SigmaCorrelationRule) -> None:
        """Map a correlation's group-by fields as its rules' fields were mapped."""
        self.last_processing_pipeline.apply(rule)


def _field(cond: ConditionFieldEqualsValueExpression) -> str:
    if cond.field is None:
        refuse("a value without a field is not supported: name the field")
    return _known(cond.field)


def _known(field: str) -> str:
    """The field, when it is one trailhound's ECS mapping of CloudTrail has."""
    if field in BY_NAME or flattened_parent(field) is not None:
        return field
    refuse(f"field {field!r} is not a CloudTrail field trailhound maps to ECS")


def _mapped(field: str) -> str:
    """A field named inside a value (`|fieldref`), through the same CloudTrail mapping."""
    from trailhound.rules.sigma_fields import FIELDS, PREFIXES

    if field in FIELDS:
        return FIELDS[field]
    for prefix, target in PREFIXES.items():
        if field.startswith(prefix):
            return target + field[len(prefix) :]
    return field


def _parts(value: object) -> tuple[str | k.Wild, ...]:
    assert isinstance(value, SigmaString)
    parts: list[str | k.Wild] = []
    for part in value.s:
        if part is SpecialChars.WILDCARD_MULTI:
            parts.append(k.Wild.ANY)
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(k.Wild.ONE)
        elif isinstance(part, Placeholder):
            refuse(f"placeholder %{part.name}% is not supported: trailhound has no values for it")
        else:
            parts.append(str(part))
    return tuple(parts)
