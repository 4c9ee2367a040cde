"""Kibana filter objects (`[[rule.filters]]`) as predicates: Elastic applies them with the
query (each an AND), so trailhound does too.

A filter is `{meta: {negate, disabled}, query: <query DSL>}` (or the DSL at its top, as older
files write `exists`). The query DSL read is `match_phrase`, `match` of one value, `term`,
`terms`, `wildcard`, `exists` and `bool` (`must`, `filter`, `should`, `must_not`); anything else
is refused with its name rather than left out, since leaving out an exclusion alerts on events
Elastic would not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trailhound.rules import kql_ast as k

_CLAUSES = ("must", "filter", "should", "must_not")


class FilterError(ValueError):
    """A filter trailhound cannot apply; the message names the part."""


def filters_node(filters: Sequence[Mapping[str, Any]]) -> k.Node | None:
    """The AND of the enabled filters, each negated when its `meta.negate` says so."""
    nodes = [_one(f) for f in filters if not _meta(f).get("disabled", False)]
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else k.And(tuple(nodes))


def _meta(item: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = item.get("meta", {})
    return meta if isinstance(meta, Mapping) else {}


def _one(item: Mapping[str, Any]) -> k.Node:
    query = item.get("query")
    dsl = (
        query
        if isinstance(query, Mapping)
        else {key: v for key, v in item.items() if key not in ("meta", "$state")}
    )
    node = _dsl(dsl)
    return k.Not(node) if _meta(item).get("negate", False) else node


def _dsl(dsl: Mapping[str, Any]) -> k.Node:
    if len(dsl) != 1:
        raise FilterError(f"a filter query needs one clause, not {sorted(dsl) or 'none'}")
    ((kind, body),) = dsl.items()
    if not isinstance(body, Mapping):
        raise FilterError(f"{kind} needs a table")
    match kind:
        case "exists":
            return k.Exists(str(body["field"]))
        case "match_phrase" | "match" | "term":
            field, value = _field_value(kind, body, "query" if kind != "term" else "value")
            return k.Match(field, k.Value((value,), quoted=True))
        case "terms":
            field, values = _only(kind, body)
            return k.Or(tuple(k.Match(field, k.Value((str(v),), quoted=True)) for v in values))
        case "wildcard":
            field, value = _field_value(kind, body, "value")
            folded = isinstance(body[field], Mapping) and bool(body[field].get("case_insensitive"))
            return k.Glob(field, k.wildcard_parts(value, escapes=True), case_insensitive=folded)
        case "bool":
            return _bool(body)
    raise FilterError(f"{kind} filters are not supported")


def _only(kind: str, body: Mapping[str, Any]) -> tuple[str, Any]:
    if len(body) != 1:
        raise FilterError(f"{kind} needs exactly one field")
    ((field, value),) = body.items()
    return str(field), value


def _field_value(kind: str, body: Mapping[str, Any], key: str) -> tuple[str, str]:
    field, value = _only(kind, body)
    if isinstance(value, Mapping):
        value = value.get(key)
    if isinstance(value, bool):
        return field, "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise FilterError(f"{kind} on {field} needs one value")
    return field, str(value)




def _bool(body: Mapping[str, Any]) -> k.Node:
    unknown = set(body) - {*_CLAUSES, "minimum_should_match"}
    if unknown:
        raise FilterError(f"bool keys {sorted(unknown)} are not supported")
    if body.get("minimum_should_match", 1) != 1:
        raise FilterError("bool minimum_should_match other than 1 is not supported")
    parts: list[k.Node] = [_dsl(c) for key in ("must", "filter") for c in _list(body.get(key))]
    should = [_dsl(c) for c in _list(body.get("should"))]
    if should:
        parts.append(should[0] if len(should) == 1 else k.Or(tuple(should)))
    parts += [k.Not(_dsl(c)) for c in _list(body.get("must_not"))]
    if not parts:
        return k.Exists("*")
    return parts[0] if len(parts) == 1 else k.And(tuple(parts))


def _list(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, Mapping) for i in items):
        raise FilterError("bool clauses must be query tables")
    return items
