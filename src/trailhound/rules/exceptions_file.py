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

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from trailhound.errors import RuleError
from trailhound.rules.elastic import read_exception
from trailhound.rules.model import RuleException
from trailhound.rules.toml_reader import TomlReader, toml_error


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
