"""The exceptions file: events to excuse, for some rules or all, until an optional date.

    [[exceptions]]
    description = "the nightly CI job recreates its test tables"
    rules = ["AWS DynamoDB Multiple Tables Deleted"]   # names or rule_ids; leave out for all
    expires = 2027-01-31
    conditions = [
      { field = "user.name", values = ["ci-deployer"] },
      { field = "source.ip", values = ["10.0.0.0/8"], kind = "cidr" },
    ]

Conditions read exactly as a rule's own `[[rule.exceptions]]` do (same reader, same checks).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from trailhound.errors import RuleError
from trailhound.rules.elastic import read_exception
from trailhound.rules.model import Rule, RuleException
from trailhound.rules.toml_reader import KeyLocator, KeyPath, TomlReader, toml_error


def load_exceptions(path: Path) -> list[RuleException]:
    """Every exception in the file; the first problem found raises a RuleError with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RuleError(f"cannot read the exceptions file: {err}", where=str(path)) from None
    found, errors = read_exceptions_text(text, source=str(path))
    if errors:
        raise errors[0]
    return found


def read_exceptions_text(text: str, *, source: str) -> tuple[list[RuleException], list[RuleError]]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return [], [toml_error(err, source)]
    reader = TomlReader(text, source)
    reader.only(doc, {"exceptions"}, ())
    found: list[RuleException] = []
    for i, item in enumerate(reader.tables(doc, "exceptions", ())):
        at = ("exceptions", i)
        rules = reader.texts(item, "rules", at, single=True)
        body: dict[str, Any] = {k: v for k, v in item.items() if k != "rules"}
        exception = read_exception(reader, body, at)
        if exception is not None:
            found.append(replace(exception, rule_ids=rules))
    return found, reader.errors


def unmatched_names(
    path: Path, rules: Sequence[Rule], is_field: Callable[[str], bool]
) -> list[RuleError]:
    """What a file that `load_exceptions` read names in vain: a rule (by name or rule_id) that
    is not among `rules`, a condition's field that no event has. Either way the exception
    excuses nothing where it was meant to, and nothing else would say so."""
    text = path.read_text(encoding="utf-8")
    locator = KeyLocator(text)
    names = sorted({r.name for r in rules} | {r.rule_id for r in rules})
    found: list[tuple[KeyPath, str]] = []
    for i, item in enumerate(tomllib.loads(text).get("exceptions", [])):
        named = item.get("rules", ())
        for name in [named] if isinstance(named, str) else named:
            if name not in names:
                message = _no_rule(i, name, names, len(rules))
                found.append((("exceptions", i, "rules"), message))
        for j, condition in enumerate(item.get("conditions", ())):
            field = condition.get("field")
            if isinstance(field, str) and not is_field(field):
                message = f"exception {i + 1} tests field {field!r}, which no event has"
                found.append((("exceptions", i, "conditions", j), message))
    return [RuleError(message, where=str(path), line=line, column=column)
            for at, message in found for line, column in [locator.find(at)]]  # fmt: skip


def _no_rule(index: int, name: str, names: Sequence[str], loaded: int) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"exception {index + 1} names rule {name!r}, which is not among the {loaded} "
        f"rules loaded{guess}; it excuses nothing for it"
    )
