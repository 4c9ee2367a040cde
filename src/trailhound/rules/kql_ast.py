"""The predicate tree every rule language compiles to: KQL parses into it, and so do EQL and
Sigma, whose string tests KQL cannot write (`Glob`, `Regex`, `FieldCompare`, `Length`).

Field-scoped forms are desugared by the parser so the tree stays small:
`f: (a or b)` is `Or(Match(f, a), Match(f, b))`, `f: not a` is `Not(Match(f, a))`,
`f: { g: x }` is `Match("f.g", x)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Star(Enum):
    """An unescaped `*` in an unquoted value: any run of characters, possibly empty."""

    STAR = "*"


@dataclass(frozen=True, slots=True)
class Value:
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


@dataclass(frozen=True, slots=True)
class Match:
    field: str
    value: Value


@dataclass(frozen=True, slots=True)
class Exists:
    field: str


@dataclass(frozen=True, slots=True)
class Range:
    field: str
    op: Literal["<", "<=", ">", ">="]
    value: Value


@dataclass(frozen=True, slots=True)
class FreeText:
    """A value with no field: Elastic searches its default fields; we search none of ours."""

    value: Value


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


class Wild(Enum):
    """EQL's and Sigma's wildcards: `*` any run of characters, `?` exactly one character."""

    ANY = "*"
    ONE = "?"


@dataclass(frozen=True, slots=True)
class Glob:
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


@dataclass(frozen=True, slots=True)
class Regex:
    """A regular expression: `anchored` matches the whole value (Elasticsearch's regexp, so
    EQL's `regex`), else any part of it (Sigma's `re`)."""

    field: str
    pattern: str
    case_insensitive: bool = False
    anchored: bool = True


@dataclass(frozen=True, slots=True)
class FieldCompare:
    """One field's value tested against another's: EQL's `stringContains(a, b)` with a field
    as its second argument, Sigma's `fieldref` modifier."""

    field: str
    op: Literal["equals", "contains", "startswith", "endswith"]
    other: str
    case_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Length:
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
