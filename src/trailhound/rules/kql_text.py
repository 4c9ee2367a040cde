"""The predicate tree in `kql_ast` back to text: canonical KQL, and a readable dump.

`to_kql` is the inverse of `trailhound.rules.kql.parse`, so it escapes exactly what Kibana's
grammar would otherwise read differently; `dump` is a stable s-expression for golden files and
messages, which never has to parse back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from trailhound.rules.kql_ast import (
    And,
    Exists,
    FieldCompare,
    FreeText,
    Glob,
    Length,
    Match,
    Node,
    Not,
    Or,
    Range,
    Regex,
    Star,
    Value,
)
from trailhound.rules.kql_chars import JS_TRIM

__all__ = ["dump", "to_kql"]

# Characters that end or change an unquoted literal, so the writer escapes them.
_SPECIAL = frozenset('\\():<>"*{}')


def to_kql(node: Node) -> str:
    """Canonical KQL for a tree; `parse(to_kql(t)) == t` for every tree `parse` returns.

    Raises ValueError for trees no KQL text parses into (an empty `And`, `Match(f, *)`, ...).
    """
    match node:
        case Or(items) | And(items):
            if len(items) < 2:
                raise ValueError(f"{type(node).__name__} needs two items to be written as KQL")
            joiner = " or " if isinstance(node, Or) else " and "
            return joiner.join(_operand(i, node) for i in items)
        case Not(item):
            return "not " + _operand(item, node)
        case Exists(field):
            return f"{_field_kql(field)}: *"
        case Match(field, value):
            if value.parts == (Star.STAR,) and not value.quoted:
                raise ValueError("Match(field, *) is written `field: *`, which means Exists")
            return f"{_field_kql(field)}: {_value_kql(value)}"
        case Range(field, op, value):
            if value.has_wildcard:
                raise ValueError("a range value is literal text and holds no wildcard")
            return f"{_field_kql(field)} {op} {_value_kql(value)}"
        case FreeText(value):
            return _value_kql(value)
        case Glob() | Regex() | FieldCompare() | Length():
            raise ValueError(f"{type(node).__name__} comes from EQL or Sigma and has no KQL text")
    raise TypeError(node)


def _operand(child: Node, parent: Node) -> str:
    text = to_kql(child)
    grouped = {Or: (Or,), And: (Or, And), Not: (Or, And, Not)}[type(parent)]
    return f"({text})" if isinstance(child, grouped) else text


def _field_kql(name: str) -> str:
    if not name:
        raise ValueError("a field name cannot be empty")
    if "*" in name:
        if name != name.strip(JS_TRIM):
            raise ValueError(f"field pattern {name!r} cannot start or end with whitespace")
        return "*".join(_escape_unquoted(s) for s in name.split("*"))
    plain = _escape_unquoted(name)
    if plain != name or name == "null" or name != name.strip(JS_TRIM):
        return _quote(name)
    return plain


def _value_kql(value: Value) -> str:
    if value.quoted:
        if value.has_wildcard:
            raise ValueError("a quoted value holds no wildcard")
        return _quote(value.text)
    text = value.text
    if not value.parts or text != text.strip(JS_TRIM):
        raise ValueError(f"unquoted value {text!r} cannot be empty or start or end with spaces")
    return "".join("*" if p is Star.STAR else _escape_unquoted(p) for p in value.parts)


def _quote(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + body.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r") + '"'


_KEYWORD = re.compile(r"(?i:or|and|not)")


def _escape_unquoted(text: str) -> str:
    """Escape a run of literal text so the unquoted-literal rule reads it back unchanged.

    The end of the run counts as whitespace: the text that follows it in a query may be.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        keyword = _KEYWORD.match(text, i)
        if keyword and _keyword_here(text, i, keyword.group()):
            word = keyword.group()
            out.append(_escape_keyword(word))
            i = keyword.end()
            continue
        out.append(_escape_char(text[i]))
        i += 1
    return "".join(out)


def _escape_keyword(word: str) -> str:
    if word.lower() == "not":
        # `\not` would read as `\n` then "ot", so spell the n as a \u escape instead.
        return f"\\u{ord(word[0]):04x}{word[1:]}"
    return "\\" + word


def _keyword_here(text: str, i: int, word: str) -> bool:
    end = i + len(word)
    followed = end == len(text) or text[end] in " \u00a0"
    if word.lower() == "not":
        return followed
    return i > 0 and text[i - 1] in " \u00a0" and followed


def _escape_char(char: str) -> str:
    if char in _SPECIAL:
        return "\\" + char
    return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(char, char)


# ---------------------------------------------------------------------------------------------
# Readable rendering for golden files


def dump(node: Node) -> str:
    """A stable s-expression of the tree; long groups break one item per line."""
    return _dump(node, 0)


_WIDTH = 88
_BARE_FIELD = re.compile(r"[A-Za-z0-9_@.*\-]+")


def _dump(node: Node, indent: int) -> str:
    flat = _flat(node)
    if indent + len(flat) <= _WIDTH or not isinstance(node, And | Or | Not):
        return flat
    kids: Iterable[Node] = (node.item,) if isinstance(node, Not) else node.items
    pad = " " * (indent + 2)
    lines = "\n".join(pad + _dump(k, indent + 2) for k in kids)
    return f"({type(node).__name__.lower()}\n{lines})"


def _flat(node: Node) -> str:
    match node:
        case And(items) | Or(items):
            inner = " ".join(_flat(i) for i in items)
            return f"({type(node).__name__.lower()} {inner})"
        case Not(item):
            return f"(not {_flat(item)})"
        case Exists(field):
            return f"(exists {_dump_field(field)})"
        case Match(field, value):
            return f"(match {_dump_field(field)} {_dump_value(value)})"
        case Range(field, op, value):
            return f"(range {_dump_field(field)} {op} {_dump_value(value)})"
        case FreeText(value):
            return f"(text {_dump_value(value)})"
        case Glob(field, parts, folded):
            inner = " ".join(json.dumps(p) if isinstance(p, str) else p.value for p in parts)
            return f"({'iglob' if folded else 'glob'} {_dump_field(field)} {inner})"
        case Regex(field, pattern, folded, anchored):
            kind = ("iregex" if folded else "regex") + ("" if anchored else "-search")
            return f"({kind} {_dump_field(field)} {json.dumps(pattern)})"
        case FieldCompare(field, op, other, folded):
            name = ("i" if folded else "") + op
            return f"({name} {_dump_field(field)} (field {_dump_field(other)}))"
        case Length(field, op, value):
            return f"(length {_dump_field(field)} {op} {value})"
    raise TypeError(node)


def _dump_field(name: str) -> str:
    return name if _BARE_FIELD.fullmatch(name) else json.dumps(name)


def _dump_value(value: Value) -> str:
    if value.quoted:
        return "q" + json.dumps(value.text)
    if not value.has_wildcard:
        return json.dumps(value.text)
    inner = " ".join("*" if p is Star.STAR else json.dumps(p) for p in value.parts)
    return f"(glob {inner})"
