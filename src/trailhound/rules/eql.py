"""Elastic's EQL as trailhound's predicate tree: a single-event query (`any where ...`,
`iam where ...`) becomes a filter, a `sequence by ... with maxspan` becomes a sequence rule.

Each comparison means what Elasticsearch documents for it: `==`, `in`, `like`, `regex` and the
string functions match letter case exactly, while `:`, `in~`, `like~`, `regex~` and a function
written with `~` ignore it; `:` and `like` take `*` and `?` wildcards; `regex` matches the whole
value. `stringContains`, `startsWith` and `endsWith` run as Elasticsearch runs them, as wildcard
patterns, so a `*` in their text is a wildcard and `\\*` a literal star. What has no trailhound
meaning (pipes, `until`, missing events, samples, other functions) is refused by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from eql import ast

from trailhound.errors import RuleError
from trailhound.rules import kql_ast as k
from trailhound.rules.eql_parse import CASELESS, parse_eql

MATCH_ALL: k.Node = k.Exists("*")
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True, slots=True)
class EqlSequence:
    by: tuple[str, ...]
    maxspan: timedelta | None  # None: the query gave none
    steps: tuple[k.Node, ...]


@dataclass(frozen=True, slots=True)
class EqlQuery:
    """A parsed EQL rule query: one filter, or a sequence of them."""

    filter: k.Node
    sequence: EqlSequence | None = None


class _Refused(Exception):
    pass


def read_eql(
    text: str,
    *,
    category_field: str = "event.category",
    where: str | None = None,
    line: int = 1,
    column: int = 1,
) -> EqlQuery:
    """Parse and translate an EQL query; `category_field` is the field `info where` reads
    (Elastic's `event_category_override`)."""
    tree = parse_eql(text, where=where, line=line, column=column)
    try:
        return _Translator(category_field).query(tree)
    except _Refused as err:
        raise RuleError(f"EQL: {err}", where=where, line=line, column=column) from None


@dataclass(frozen=True, slots=True)
class _Translator:
    category_field: str

    def query(self, tree: Any) -> EqlQuery:
        if isinstance(tree, ast.PipedQuery):
            if tree.pipes:
                raise _Refused("pipes (| head, | tail, | filter ...) are not supported")
            tree = tree.first
        if isinstance(tree, ast.EventQuery):
            return EqlQuery(self.event(tree))
        if isinstance(tree, ast.Sequence):
            return EqlQuery(MATCH_ALL, self.sequence(tree))
        raise _Refused(f"{type(tree).__name__.lower()} queries are not supported")

    def sequence(self, tree: ast.Sequence) -> EqlSequence:
        if tree.close is not None:
            raise _Refused("sequences with `until` are not supported")
        keys = {tuple(_field(v) for v in step.join_values or ()) for step in tree.queries}
        if len(keys) != 1:
            raise _Refused("each step of a sequence must join on the same fields (`by`)")
        if any((step.data or {}).get("is_negated") for step in tree.queries):
            raise _Refused("missing events (`![...]`) in sequences are not supported")
        span = tree.max_span
        maxspan = None if span is None else timedelta(milliseconds=span.as_milliseconds())
        steps = tuple(self.event(step.query) for step in tree.queries)
        return EqlSequence(by=keys.pop(), maxspan=maxspan, steps=steps)

    def event(self, query: ast.EventQuery) -> k.Node:
        test = self.expr(query.query)
        if query.event_type == "any":
            return test
        category = k.Match(self.category_field, k.Value((query.event_type,), quoted=True))
        return category if test == MATCH_ALL else k.And((category, test))

    def expr(self, node: Any) -> k.Node:
        match node:
            case ast.And(terms=terms):
                return k.And(tuple(self.expr(t) for t in terms))
            case ast.Or(terms=terms):
                return k.Or(tuple(self.expr(t) for t in terms))
            case ast.Not(term=term):
                return k.Not(self.expr(term))
            case ast.Boolean(value=value):
                return MATCH_ALL if value else k.Not(MATCH_ALL)
            case ast.IsNull(expr=field):
                return k.Not(k.Exists(_field(field)))
            case ast.IsNotNull(expr=field):
                return k.Exists(_field(field))
            case ast.InSet(expression=field, container=values):
                return _any(_equals(_field(field), v) for v in values)
            case ast.Comparison():
                return self.comparison(node)
            case ast.FunctionCall(name=name, arguments=args):
                return self.function(name, args)
        raise _Refused(f"{node} is not a condition trailhound can run")

    def comparison(self, node: ast.Comparison) -> k.Node:
        left, op, right = node.left, node.comparator, node.right
        if isinstance(left, ast.Literal):
            left, op, right = right, _FLIPPED[op], left
        if op == "!=":
            return k.Not(self.comparison(ast.Comparison(left, "==", right)))
        if isinstance(left, ast.FunctionCall):
            if left.name != "length":
                raise _Refused(f"function {left.name}() is not supported")
            (target,) = left.arguments
            return k.Length(_field(target), "=" if op == "==" else op, _whole(right))
        field = _field(left)
        if op == "==":
            return _equals(field, right)
        return k.Range(field, op, k.Value((_text(right),), quoted=True))

    def function(self, name: str, args: Sequence[Any]) -> k.Node:
        folded = name.endswith(CASELESS)
        base = name.removesuffix(CASELESS)
        make = _FUNCTIONS.get(base)
        if make is None:
            raise _Refused(f"function {base}() is not supported")
        field, *values = args
        return _any(make(_field(field), v, folded) for v in values)


def _field(node: Any) -> str:
    if not isinstance(node, ast.Field) or any(not isinstance(p, str) for p in node.path):
        raise _Refused(f"{node} is not a field name")
    return ".".join([node.base, *node.path])


def _text(node: Any) -> str:
    if isinstance(node, ast.Boolean):
        return "true" if node.value else "false"
    if isinstance(node, ast.String | ast.Number):
        return str(node.value)
    raise _Refused(f"{node} is not a value")


def _whole(node: Any) -> int:
    if isinstance(node, ast.Number) and int(node.value) == node.value:
        return int(node.value)
    raise _Refused(f"length() compares with a whole number, not {node}")


def _equals(field: str, value: Any) -> k.Node:
    return k.Match(field, k.Value((_text(value),), quoted=True))


def _any(nodes: Any) -> k.Node:
    items = tuple(nodes)
    return items[0] if len(items) == 1 else k.Or(items)




def _glob(field: str, value: Any, folded: bool) -> k.Node:
    return k.Glob(field, k.wildcard_parts(_text(value), escapes=False), case_insensitive=folded)


def _in(field: str, value: Any, folded: bool) -> k.Node:
    return k.Glob(field, (_text(value),), case_insensitive=folded)


def _regex(field: str, value: Any, folded: bool) -> k.Node:
    return k.Regex(field, _text(value), case_insensitive=folded, anchored=True)


def _cidr(field: str, value: Any, folded: bool) -> k.Node:
    return k.Match(field, k.Value((_text(value),), quoted=True))


def _substring(
    where: Literal["contains", "startswith", "endswith"],
) -> Callable[[str, Any, bool], k.Node]:
    def make(field: str, value: Any, folded: bool) -> k.Node:
        if isinstance(value, ast.Field):
            return k.FieldCompare(field, where, _field(value), case_insensitive=folded)
        inner = k.wildcard_parts(_text(value), escapes=True)
        before = () if where == "startswith" else (k.Wild.ANY,)
        after = () if where == "endswith" else (k.Wild.ANY,)
        return k.Glob(field, (*before, *inner, *after), case_insensitive=folded)

    return make


_FUNCTIONS: dict[str, Callable[[str, Any, bool], k.Node]] = {
    "wildcard": _glob,
    "match": _regex,
    "in": _in,
    "cidrMatch": _cidr,
    "stringContains": _substring("contains"),
    "startsWith": _substring("startswith"),
    "endsWith": _substring("endswith"),
}
