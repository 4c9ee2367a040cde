"""The predicate tree every rule language compiles to: KQL parses into it, and so do EQL and
Sigma, whose string tests KQL cannot write (`Glob`, `Regex`, `FieldCompare`, `Length`).

Field-scoped forms are desugared by the parser so the tree stays small:
`f: (a or b)` is `Or(Match(f, a), Match(f, b))`, `f: not a` is `Not(Match(f, a))`,
`f: { g: x }` is `Match("f.g", x)`.

The nodes are msgspec Structs, not dataclasses: every run imports them, and a Struct is made
in C (~20 µs a class) where a frozen dataclass compiles each of its methods (~0.5 ms). Change
one with `msgspec.structs.replace`.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from msgspec import Struct


class Star(Enum):
    """An unescaped `*` in an unquoted value: any run of characters, possibly empty."""

    STAR = "*"


class Value(Struct, frozen=True):
    """A value as written: literal text and wildcards. Quoted values never hold a Star."""

    parts: tuple[str | Star, ...]
    quoted: bool = False

    @property
    def has_wildcard(self) -> bool:
        return any(p is Star.STAR for p in self.parts)

    @property
    def text(self) -> str:
        """The literal text; only meaningful when `has_wildcard` is false."""
        return "".join(p if isinstance(p, str) else "*" for p in self.parts)


class Match(Struct, frozen=True):
    field: str
    value: Value


class Exists(Struct, frozen=True):
    field: str


class Range(Struct, frozen=True):
    field: str
    op: Literal["<", "<=", ">", ">="]
    value: Value


class FreeText(Struct, frozen=True):
    """A value with no field: Elastic searches its default fields; we search none of ours."""

    value: Value


class And(Struct, frozen=True):
    items: tuple[Node, ...]


class Or(Struct, frozen=True):
    items: tuple[Node, ...]


class Not(Struct, frozen=True):
    item: Node


class Wild(Enum):
    """EQL's and Sigma's wildcards: `*` any run of characters, `?` exactly one character."""

    ANY = "*"
    ONE = "?"


class Glob(Struct, frozen=True):
    """A keyword compared with text that may hold `Wild` parts, optionally ignoring letter case
    (EQL's `:`, `like~`, `in~`, `stringContains~`; Sigma's values, which ignore case unless
    `|cased`). With no wildcard it is an equality."""

    field: str
    parts: tuple[str | Wild, ...]
    case_insensitive: bool = False

    @property
    def exact(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.value for p in self.parts)


class Regex(Struct, frozen=True):
    """A regular expression: `anchored` matches the whole value (Elasticsearch's regexp, so
    EQL's `regex`), else any part of it (Sigma's `re`)."""

    field: str
    pattern: str
    case_insensitive: bool = False
    anchored: bool = True


class FieldCompare(Struct, frozen=True):
    """One field's value tested against another's: EQL's `stringContains(a, b)` with a field
    as its second argument, Sigma's `fieldref` modifier."""

    field: str
    op: Literal["equals", "contains", "startswith", "endswith"]
    other: str
    case_insensitive: bool = False


class Length(Struct, frozen=True):
    """The number of characters of a keyword compared with a number (EQL's `length`)."""

    field: str
    op: Literal["=", "<", "<=", ">", ">="]
    value: int


Node = Match | Exists | Range | FreeText | And | Or | Not | Glob | Regex | FieldCompare | Length


def fields(node: Node) -> set[str]:
    """Every field a query reads."""
    match node:
        case Match(f) | Exists(f) | Range(f) | Glob(f) | Regex(f) | Length(f):
            return {f}
        case FieldCompare(f, _, other):
            return {f, other}
        case FreeText():
            return set()
        case And(items) | Or(items):
            return set().union(*(fields(i) for i in items))
        case Not(item):
            return fields(item)
    raise TypeError(node)


def wildcard_parts(text: str, *, escapes: bool) -> tuple[str | Wild, ...]:
    """`*` and `?` as wildcards (EQL, Elasticsearch's wildcard query); with `escapes`, `\\`
    makes the next character literal."""
    parts: list[str | Wild] = []
    literal = ""
    chars = iter(text)
    for char in chars:
        if escapes and char == "\\":
            literal += next(chars, "\\")
        elif char in "*?":
            parts += [literal] if literal else []
            parts.append(Wild.ANY if char == "*" else Wild.ONE)
            literal = ""
        else:
            literal += char
    return (*parts, literal) if literal else tuple(parts)
