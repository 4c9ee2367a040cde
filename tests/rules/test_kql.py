"""KQL parsing: golden trees, Elastic's own rules, error locations, and the round trip.

Golden files live in tests/golden/kql/. Each case is

    === a name
    the KQL, over as many lines as it needs (or `json "..."` for invisible characters)
    ---
    the expected `dump`, or `error: LINE:COLUMN: message`

A `=== rule: FILE.toml` case takes its query from the shared Elastic rules instead. Set
TRAILHOUND_UPDATE_GOLDEN=1 to rewrite the expected parts, then review the diff by eye.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.errors import RuleError
from trailhound.rules import kql
from trailhound.rules.kql_ast import And, Exists, FreeText, Match, Node, Not, Or, Range, Star, Value
from trailhound.rules.kql_chars import JS_TRIM

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "kql"
UPDATE = os.environ.get("TRAILHOUND_UPDATE_GOLDEN") == "1"
RULES_GOLDEN = GOLDEN / "elastic_rules.txt"


@dataclass
class Case:
    name: str
    kql: str
    expected: str


@dataclass
class RawCase:
    name: str
    query: str = ""
    expected: str = ""
    in_expected: bool = False


def split_cases(path: Path) -> list[RawCase]:
    """Each case's name, query section and expected section, exactly as written."""
    cases: list[RawCase] = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("=== "):
            cases.append(RawCase(line[4:].strip()))
        elif not cases:
            continue
        elif cases[-1].in_expected:
            cases[-1].expected += line
        elif line == "---\n":
            cases[-1].in_expected = True
        else:
            cases[-1].query += line
    return cases


def read_cases(path: Path) -> list[Case]:
    cases = []
    for raw in split_cases(path):
        text = raw.query.removesuffix("\n")
        if text.startswith("json "):
            text = json.loads(text.removeprefix("json "))
        cases.append(Case(raw.name, text, raw.expected.strip("\n")))
    return cases


def write_cases(path: Path, cases: list[Case]) -> None:
    queries = {raw.name: raw.query for raw in split_cases(path)}
    parts = [f"=== {c.name}\n{queries[c.name]}---\n{c.expected}\n" for c in cases]
    path.write_text("\n".join(parts), encoding="utf-8")


def outcome(text: str) -> str:
    try:
        return kql.dump(kql.parse(text))
    except RuleError as err:
        return f"error: {err}"


def check_golden(path: Path, actual: dict[str, str]) -> None:
    cases = read_cases(path)
    if UPDATE:
        for case in cases:
            case.expected = actual[case.name]
        write_cases(path, cases)
        return
    mismatched = [c.name for c in cases if actual[c.name] != c.expected]
    for name in mismatched:
        expected = next(c.expected for c in cases if c.name == name)
        print(f"--- {name}\nexpected:\n{expected}\nactual:\n{actual[name]}")
    assert not mismatched


GOLDEN_FILES = sorted(p for p in GOLDEN.glob("*.txt") if p != RULES_GOLDEN)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_file(path: Path) -> None:
    cases = read_cases(path)
    assert cases, f"{path} holds no case"
    assert len({c.name for c in cases}) == len(cases), "case names must be unique"
    check_golden(path, {c.name: outcome(c.kql) for c in cases})


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_trees_survive_a_round_trip(path: Path) -> None:
    for case in read_cases(path):
        if not case.expected.startswith("error:"):
            tree = kql.parse(case.kql)
            assert kql.parse(kql.to_kql(tree)) == tree, case.name


def kuery_rules(shared_data: Path) -> dict[str, tuple[Path, str]]:
    out: dict[str, tuple[Path, str]] = {}
    for path in sorted((shared_data / "elastic-rules").glob("*.toml")):
        rule = tomllib.loads(path.read_text(encoding="utf-8"))["rule"]
        if rule.get("language") == "kuery" and "query" in rule:
            out[path.name] = (path, rule["query"])
    return out


def test_every_elastic_kuery_rule_parses_to_its_golden_tree(shared_data: Path) -> None:
    rules = kuery_rules(shared_data)
    assert len(rules) == 70
    actual = {f"rule: {n}": kql.dump(kql.parse(q, where=str(p))) for n, (p, q) in rules.items()}
    assert {c.name for c in read_cases(RULES_GOLDEN)} == set(actual)
    check_golden(RULES_GOLDEN, actual)


def test_every_elastic_kuery_rule_survives_a_round_trip(shared_data: Path) -> None:
    for _name, (_path, query) in kuery_rules(shared_data).items():
        tree = kql.parse(query)
        assert kql.parse(kql.to_kql(tree)) == tree


# --- errors point at the file ------------------------------------------------------------------


def error_of(text: str, where: str | None = None, line: int = 1, column: int = 1) -> RuleError:
    with pytest.raises(RuleError) as info:
        kql.parse(text, where=where, line=line, column=column)
    return info.value


RULE_HEAD = 'event.dataset: "aws.cloudtrail"\n    and event.action: (\n'


def test_error_carries_the_file_line_and_column_of_a_multi_line_query() -> None:
    err = error_of(RULE_HEAD + '        "A" or\n', where="rules/x.toml", line=12)
    assert (err.where, err.line, err.column) == ("rules/x.toml", 14, 15)
    assert err.message == "expected a value after 'or'"


def test_unclosed_bracket_names_where_it_was_opened() -> None:
    err = error_of(RULE_HEAD + '        "A" or "B"\n\n', line=12)
    assert (err.line, err.column) == (14, 19)
    assert err.message == "expected ')' to close the '(' at line 13, column 23"


def test_error_column_on_the_first_line_counts_from_where_the_query_starts() -> None:
    err = error_of("event.action:", where="r.toml", line=7, column=10)
    assert (err.line, err.column) == (7, 23)
    assert str(err) == "r.toml:7:23: expected a value after ':'"


def test_error_after_the_first_line_ignores_the_start_column() -> None:
    err = error_of("a: b and\n  c: d e: f", line=3, column=40)
    assert (err.line, err.column) == (4, 9)
    assert err.message.startswith("expected 'and', 'or' or the end of the query after 'd e'")


def test_unclosed_quote_points_at_the_opening_quote() -> None:
    err = error_of('a: b and\nc: "oops', line=1)
    assert (err.line, err.column) == (2, 4)
    assert err.message == "this quoted string is never closed with '\"'"


def test_unknown_escape_is_named() -> None:
    err = error_of(r"path: C\Windows")
    assert (err.line, err.column) == (1, 8)
    assert err.message.startswith("'\\W' is not a KQL escape")


def test_keyword_without_spaces_gets_a_hint() -> None:
    err = error_of("(a: b)or(c: d)")
    assert (err.line, err.column) == (1, 7)
    assert "need whitespace on both sides" in err.message


# --- field patterns ----------------------------------------------------------------------------


def test_expand_fields_follows_kibana_wildcards() -> None:
    names = ["user.name", "user.id", "user_agent.original", "source.ip"]
    assert kql.expand_fields("user.*", names) == ("user.name", "user.id")
    assert kql.expand_fields("user*", names) == ("user.name", "user.id", "user_agent.original")
    assert kql.expand_fields("*", names) == tuple(names)
    assert kql.expand_fields("source.ip", []) == ("source.ip",)


# --- the round trip ----------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [*' \\()<>:"{}?.-@\t\n\r\u00a0', "or", "and", "not", "OR", "Not", "u0041", "null"]
)
_CHARS = st.characters(blacklist_categories=("Cs",))
_TEXT = st.lists(st.one_of(_PIECES, _CHARS), max_size=6).map("".join)


def _untrimmed(text: str) -> bool:
    return bool(text) and text == text.strip(JS_TRIM)


def _merge(parts: list[str | Star]) -> tuple[str | Star, ...]:
    out: list[str | Star] = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        elif p != "":
            out.append(p)
    return tuple(out)


_GLOB = (
    st.lists(st.one_of(_TEXT, st.just(Star.STAR)), min_size=1, max_size=4)
    .map(_merge)
    .filter(lambda parts: _untrimmed("".join(p if isinstance(p, str) else "*" for p in parts)))
)
_QUOTED = _TEXT.map(lambda t: Value((t,) if t else (), quoted=True))
_UNQUOTED_TEXT = _TEXT.filter(_untrimmed).map(lambda t: Value((t,)))
_VALUES = st.one_of(_QUOTED, _UNQUOTED_TEXT, _GLOB.map(Value))
_MATCH_VALUES = _VALUES.filter(lambda v: v.parts != (Star.STAR,) or v.quoted)
_FIELDS = st.one_of(
    _TEXT.filter(lambda t: t != "" and "*" not in t),
    _GLOB.map(lambda parts: "".join(p if isinstance(p, str) else "*" for p in parts)),
)
_OPS = st.sampled_from(["<", "<=", ">", ">="])
_LEAVES = st.one_of(
    st.builds(Match, _FIELDS, _MATCH_VALUES),
    st.builds(Exists, _FIELDS),
    st.builds(Range, _FIELDS, _OPS, st.one_of(_QUOTED, _UNQUOTED_TEXT)),
    st.builds(FreeText, _VALUES),
)


def _trees() -> st.SearchStrategy[Node]:
    def grow(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        group = st.lists(children, min_size=2, max_size=4).map(tuple)
        return st.one_of(st.builds(And, group), st.builds(Or, group), st.builds(Not, children))

    return st.recursive(_LEAVES, grow, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_trees())
def test_to_kql_parses_back_to_the_same_tree(tree: Node) -> None:
    text = kql.to_kql(tree)
    assert kql.parse(text) == tree, text


# --- canonical text ----------------------------------------------------------------------------

A1 = Match("a", Value(("1",)))
B2 = Match("b", Value(("2",)))
C3 = Match("c", Value(("3",)))


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (And((Or((A1, B2)), C3)), "(a: 1 or b: 2) and c: 3"),
        (Or((A1, And((B2, C3)))), "a: 1 or b: 2 and c: 3"),
        (Or((A1, Or((B2, C3)))), "a: 1 or (b: 2 or c: 3)"),
        (Not(Not(A1)), "not (not a: 1)"),
        (Not(And((A1, B2))), "not (a: 1 and b: 2)"),
        (Exists("user.*"), "user.*: *"),
        (Range("@timestamp", ">=", Value(("now-1d",))), "@timestamp >= now-1d"),
        (Match("a", Value(("x or y",))), r"a: x \or y"),
        (Match("a", Value(("x", Star.STAR, ":i-"))), r"a: x*\:i-"),
        (Match("a", Value(('say "hi"\n',), quoted=True)), r'a: "say \"hi\"\n"'),
        (FreeText(Value(("cannot find",))), r"can\u006eot find"),
        (Match("null", Value(("x",))), '"null": x'),
        (Match("my field", Value(("x",))), "my field: x"),
        (Match(" padded", Value(("x",))), '" padded": x'),
    ],
)
def test_to_kql_writes_canonical_text(tree: Node, text: str) -> None:
    assert kql.to_kql(tree) == text


@pytest.mark.parametrize(
    "tree",
    [
        And(()),
        Or((A1,)),
        Match("a", Value((Star.STAR,))),
        Match("a", Value((" x",))),
        Range("a", "<", Value(("1", Star.STAR))),
        Exists(""),
    ],
)
def test_to_kql_refuses_trees_no_query_parses_into(tree: Node) -> None:
    with pytest.raises(ValueError):
        kql.to_kql(tree)


def test_unicode_escapes_of_a_surrogate_pair_make_one_character() -> None:
    assert kql.parse(r"a: \ud83d\ude00") == Match("a", Value(("\U0001f600",)))
    assert kql.parse(r'a: "\ud83d\ude00"') == Match("a", Value(("\U0001f600",), quoted=True))


def test_grammar_ships_inside_the_package() -> None:
    from importlib.resources import files

    assert files("trailhound.rules").joinpath("kql.lark").is_file()
