"""Rule parameters: value lists a user sets without copying the rule (a decoy table list).

A rule declares them in `[[rule.parameters]]` (`name`, `field`, `values`, `description`); the
user fills them in trailhound.toml (`[rules.overrides."NAME"] parameters = { name = [...] }`),
a rule test in its own `parameters` table. A parameter narrows the rule to events whose field
holds one of its values; a rule with a parameter left empty is not configured and never runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from msgspec import structs

from trailhound.rules.model import Parameter, Rule
from trailhound.rules.toml_reader import KeyPath, TomlReader


def read_parameters(reader: TomlReader, rule: Mapping[str, Any]) -> tuple[Parameter, ...] | None:
    found = reader.each(rule, "parameters", ("rule",), partial(_read_one, reader))
    if found is not None and len({p.name for p in found}) < len(found):
        reader.fail(("rule", "parameters"), "two parameters have the same name")
        return None
    return found


def _read_one(reader: TomlReader, item: Mapping[str, Any], at: KeyPath) -> Parameter | None:
    reader.only(item, {"name", "field", "values", "description"}, at)
    name = reader.require(item, "name", at, str, "a string")
    field = reader.require(item, "field", at, str, "a field name")
    values = reader.texts(item, "values", at)
    description = reader.text(item, "description", at)
    return None if name is None or field is None else Parameter(name, field, values, description)


def read_values(
    reader: TomlReader, table: Mapping[str, Any], at: KeyPath
) -> dict[str, tuple[str, ...]] | None:
    """`{ name = [values...] }`, as a test gives them."""
    given = reader.get(table, "parameters", at, dict, "a table")
    if given is None:
        return {} if "parameters" not in table else None
    here = (*at, "parameters")
    return {name: reader.texts(given, name, here, single=True) for name in given}


def parameters_table(rule: Rule) -> list[dict[str, Any]] | None:
    if not rule.parameters:
        return None
    return [
        {"name": p.name, "field": p.field, "values": list(p.values)}
        | ({"description": p.description} if p.description else {})
        for p in rule.parameters
    ]


def unknown(rule: Rule, values: Mapping[str, object]) -> list[str]:
    """Names in `values` that are not parameters of the rule."""
    own = {p.name for p in rule.parameters}
    return [name for name in values if name not in own]


def with_values(rule: Rule, values: Mapping[str, tuple[str, ...]]) -> Rule:
    """The rule with these parameters' values replaced (unknown names are ignored: callers
    report them with `unknown`)."""
    if not values:
        return rule
    chosen = tuple(
        structs.replace(p, values=tuple(values[p.name])) if p.name in values else p
        for p in rule.parameters
    )
    return replace(rule, parameters=chosen)


def not_configured(rule: Rule) -> str:
    """What to tell a user about a rule whose parameters are still empty."""
    names = ", ".join(rule.unconfigured)
    return (
        f"{rule.name} is not configured and does not run: give it {names} in trailhound.toml "
        f'([rules.overrides."{rule.name}"] parameters = {{ {rule.unconfigured[0]} = [...] }})'
    )
