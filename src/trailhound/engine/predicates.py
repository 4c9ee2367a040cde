"""KQL tree -> SQL predicate (a sqlglot expression) over the normalized events view.

Semantics follow Elastic's keyword fields: exact, case-sensitive matches; `*` wildcards;
a missing field never matches, so `not f: x` matches events that lack `f`. Every leaf is
made two-valued (never NULL) so NOT and OR behave as they do in Elastic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from msgspec.structs import replace
from sqlglot import exp

from trailhound.cloudtrail.schema import BY_NAME, COLUMNS, Column, Kind, flattened_parent
from trailhound.engine.udfs import CIDR_UDF, FLAT_UDF, IP_UDF, ip_key
from trailhound.errors import RuleError, TrailhoundError
from trailhound.rules import kql_ast as k
from trailhound.rules.duration import resolve_span
from trailhound.rules.kql import expand_fields


# The engine's own functions (engine/udfs.py) as typed nodes, so that a dialect can find and
# rewrite them (engine/dialects.py) instead of matching function names in text.
class ThFlat(exp.Expression, exp.Func):
    """FLAT_UDF: `this` the JSON text column, `expression` the dotted path ('' = every leaf)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expression": True}
    _sql_names: ClassVar[list[str]] = [FLAT_UDF.upper()]


class ThInCidr(exp.Expression, exp.Func):
    """CIDR_UDF: `this` the address text, `expression` the network."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expression": True}
    _sql_names: ClassVar[list[str]] = [CIDR_UDF.upper()]


class ThIpKey(exp.Expression, exp.Func):
    """IP_UDF: `this` the address text."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True}
    _sql_names: ClassVar[list[str]] = [IP_UDF.upper()]


UDF_NODES: dict[type[exp.Func], str] = {ThFlat: FLAT_UDF, ThInCidr: CIDR_UDF, ThIpKey: IP_UDF}

def column(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True), copy=False)


def _false() -> exp.Boolean:
    return exp.false()


def _is_false(pred: exp.Expr) -> bool:
    """Whether `pred` is the bare FALSE a condition that can never hold compiles to."""
    return isinstance(pred, exp.Boolean) and pred.this is False


def compile_predicate(node: k.Node, *, now: datetime) -> exp.Expr:
    return _Compiler(now).node(node)


class _Compiler:
    """Builds the SQL tree bottom-up. Every node is new and used once, so sqlglot's builders
    are told not to copy their arguments: those deep copies were most of the compile time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def node(self, node: k.Node) -> exp.Expr:
        match node:
            case k.Exists("*"):
                return exp.true()  # `*` and the empty query match every event
            case k.Match(f) | k.Exists(f) | k.Range(f) if "*" in f:
                return self.field_pattern(node, f)
            case k.And(items):
                return exp.and_(*(_paren(self.node(i)) for i in items), copy=False)
            case k.Or(items):
                return exp.or_(*(_paren(self.node(i)) for i in items), copy=False)
            case k.Not(item):
                return exp.not_(_paren(self.node(item)), copy=False)
            case k.Exists(field):
                return _two_valued(self.exists(field))
            case k.Match(field, value):
                return _two_valued(self.match(field, value))
            case k.Range(field, op, value):
                return _two_valued(self.range(field, op, value))
            case k.FreeText(value) if all(p is k.Star.STAR for p in value.parts):
                return exp.true()
            case k.FreeText(value):
                return self.free_text(value)
            case k.Glob() | k.Regex() | k.FieldCompare() | k.Length():
                # imported here: string_tests builds on this module's names
                from trailhound.engine.string_tests import string_test

                return _two_valued(string_test(node))
        raise TypeError(node)

    def field_pattern(self, node: k.Match | k.Exists | k.Range, pattern: str) -> exp.Expr:
        """`user.*: x` means any field the pattern names, as Kibana expands it."""
        names = expand_fields(pattern, (c.name for c in COLUMNS))
        if not names:
            return _false()
        return _paren(exp.or_(*(self.node(replace(node, field=n)) for n in names), copy=False))

    def exists(self, field: str) -> exp.Expr:
        col = BY_NAME.get(field)
        if col is None:
            flat = flattened_parent(field)
            if flat is None:
                return _false()
            return exp.GT(this=_length(flat_values(*flat)), expression=exp.Literal.number(0))
        if col.kind is Kind.KEYWORDS:
            return exp.GT(this=_length(column(field)), expression=exp.Literal.number(0))
        if col.kind is Kind.FLATTENED:
            return exp.GT(this=_length(flat_values(col, "")), expression=exp.Literal.number(0))
        return exp.Not(this=exp.Is(this=column(field), expression=exp.Null()))

    def match(self, field: str, value: k.Value) -> exp.Expr:
        col = BY_NAME.get(field)
        if col is None:
            flat = flattened_parent(field)
            if flat is None:
                return _false()
            return _any_element(flat_values(*flat), value)
        match col.kind:
            case Kind.KEYWORD:
                return _string_match(column(field), value)
            case Kind.IP:
                return _ip_match(column(field), value)
            case Kind.KEYWORDS:
                return _any_element(column(field), value)
            case Kind.FLATTENED:
                return _any_element(flat_values(col, ""), value)
            case Kind.BOOLEAN:
                return _bool_match(column(field), value)
            case Kind.LONG:
                return _number_match(column(field), value)
            case Kind.DATE:
                return self._date_compare(col, "=", value)
        raise TypeError(col.kind)

    def range(self, field: str, op: str, value: k.Value) -> exp.Expr:
        col = BY_NAME.get(field)
        if col is None:
            return _false()
        if col.kind is Kind.DATE:
            return self._date_compare(col, op, value)
        if col.kind is Kind.LONG:
            number = _as_number(value)
            if number is None:
                return _false()
            return COMPARE[op](column(field), exp.Literal.number(number))
        if col.kind is Kind.IP:
            key = None if value.has_wildcard else ip_key(value.text)
            if key is None:  # Elasticsearch refuses the query; no event matches it here
                return _false()
            return COMPARE[op](_ip_of(column(field)), exp.Literal.string(key))
        if col.kind is Kind.KEYWORD:
            return COMPARE[op](column(field), exp.Literal.string(value.text))
        return _false()

    def _date_compare(self, col: Column, op: str, value: k.Value) -> exp.Expr:
        try:
            start, after = resolve_span(value.text, now=self.now)
        except TrailhoundError as err:
            raise RuleError(f"{col.name}: {err.message}") from None
        target = column(col.name)
        if after is None:
            return COMPARE[op](target, _timestamp(start))
        # A span ("now-1d/d", "2024-01-02") bounds a range as Elasticsearch's range query
        # rounds it: `gt` and `lte` round up to the span's last millisecond, `gte` and `lt`
        # down to its first, so each takes in or leaves out the whole span. Elasticsearch keeps
        # milliseconds, so "above the last millisecond" is "from the first instant after".
        match op:
            case ">":
                return exp.GTE(this=target, expression=_timestamp(after))
            case "<=":
                return exp.LT(this=target, expression=_timestamp(after))
            case ">=":
                return exp.GTE(this=target, expression=_timestamp(start))
            case "<":
                return exp.LT(this=target, expression=_timestamp(start))
        # `f: now/d` is the span itself, from its first instant to its last
        return exp.and_(
            exp.GTE(this=target, expression=_timestamp(start)),
            exp.LT(this=column(col.name), expression=_timestamp(after)),
            copy=False,
        )

    def free_text(self, value: k.Value) -> exp.Expr:
        # Elastic searches every field; the closest here is every keyword column.
        leaves = [
            _two_valued(_string_match(column(c.name), value))
            for c in COLUMNS
            if c.kind is Kind.KEYWORD
        ]
        return _paren(exp.or_(*leaves, copy=False))


# SQL comparison by its KQL/EQL/Sigma operator; string_tests reuses it
COMPARE: dict[str, Callable[[exp.Expr, exp.Expr], exp.Expr]] = {
    "=": lambda a, b: exp.EQ(this=a, expression=b),
    "<": lambda a, b: exp.LT(this=a, expression=b),
    "<=": lambda a, b: exp.LTE(this=a, expression=b),
    ">": lambda a, b: exp.GT(this=a, expression=b),
    ">=": lambda a, b: exp.GTE(this=a, expression=b),
}


def _timestamp(when: datetime) -> exp.Expr:
    return exp.cast(
        # a space, not ISO's `T`: Trino's timestamp text wants it, and DuckDB and Spark read both
        exp.Literal.string(when.isoformat(sep=" ")),
        exp.DataType.build("TIMESTAMPTZ"),
        copy=False,
    )


def _two_valued(pred: exp.Expr) -> exp.Expr:
    if _is_false(pred):
        return pred
    return exp.Coalesce(this=pred, expressions=[exp.false()])


def _paren(expr: exp.Expr) -> exp.Paren:
    return exp.paren(expr, copy=False)


def _length(list_expr: exp.Expr) -> exp.Expr:
    return exp.ArraySize(this=list_expr)


def flat_values(col: Column, path: str) -> exp.Expr:
    """The leaf values of the flattened column `col` under `path`, as a list of text."""
    return ThFlat(this=column(col.name), expression=exp.Literal.string(path))


def any_element(list_expr: exp.Expr, test: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """Whether some element `x` of the list passes `test(x)`."""
    x = exp.column(exp.to_identifier("x"), copy=False)
    lambda_ = exp.Lambda(this=test(x), expressions=[exp.to_identifier("x")])
    matching = exp.ArrayFilter(this=list_expr, expression=lambda_)
    return exp.GT(this=_length(matching), expression=exp.Literal.number(0))


def like_pattern(value: k.Value) -> str:
    """A LIKE pattern with `\\` as escape: `*` becomes `%`, literal `%`, `_`, `\\` escaped."""
    out: list[str] = []
    for part in value.parts:
        if part is k.Star.STAR:
            out.append("%")
        else:
            assert isinstance(part, str)
            out.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(out)


def _string_match(target: exp.Expr, value: k.Value) -> exp.Expr:
    if value.has_wildcard:
        return exp.Escape(
            this=exp.Like(this=target, expression=exp.Literal.string(like_pattern(value))),
            expression=exp.Literal.string("\\"),
        )
    return exp.EQ(this=target, expression=exp.Literal.string(value.text))


def _any_element(list_expr: exp.Expr, value: k.Value) -> exp.Expr:
    if not value.has_wildcard:
        return exp.ArrayContains(this=list_expr, expression=exp.Literal.string(value.text))
    return any_element(list_expr, lambda x: _string_match(x, value))


def _ip_match(target: exp.Expr, value: k.Value) -> exp.Expr:
    if not value.has_wildcard and "/" in value.text:
        try:
            ipaddress.ip_network(value.text, strict=False)
        except ValueError:
            return _false()
        return ThInCidr(this=target, expression=exp.Literal.string(value.text))
    if value.has_wildcard:
        # Elasticsearch's ip field takes no wildcard; matching the text as written finds
        # at least what a user meant by `10.0.*` rather than refusing the rule
        return _string_match(target, value)
    return ip_equals(target, value.text)


def ip_equals(target: exp.Expr, text: str) -> exp.Expr:
    """An ip field holds `text` as an address: `::1` matches `0:0::1`, `10.0.0.1` matches
    `::ffff:10.0.0.1`. Text that is no address matches nothing (Elasticsearch refuses it)."""
    key = ip_key(text)
    if key is None:
        return _false()
    return exp.EQ(this=_ip_of(target), expression=exp.Literal.string(key))


def _ip_of(target: exp.Expr) -> exp.Expr:
    return ThIpKey(this=target)


# The texts Elasticsearch's boolean field reads as true or false ("Boolean field type"): exact,
# letter case included; any other text (`TRUE`, `yes`) it refuses, and here matches nothing.
_BOOLEAN_TEXT = {"true": True, "false": False, "": False}


def _bool_match(target: exp.Expr, value: k.Value) -> exp.Expr:
    truth = None if value.has_wildcard else _BOOLEAN_TEXT.get(value.text)
    if truth is None:
        return _false()
    return exp.EQ(this=target, expression=exp.Boolean(this=truth))


def _as_number(value: k.Value) -> str | None:
    if value.has_wildcard:
        return None
    try:
        float(value.text)
    except ValueError:
        return None
    return value.text


def _number_match(target: exp.Expr, value: k.Value) -> exp.Expr:
    number = _as_number(value)
    if number is None:
        return _false()
    return exp.EQ(this=target, expression=exp.Literal.number(number))
