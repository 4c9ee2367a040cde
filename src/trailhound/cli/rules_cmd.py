"""`trailhound rules`: list, show, validate, test and export detection rules.

Every path argument may be a rule file or a directory of them; without one, the rules that ship
with trailhound are used. Rule text goes to the terminal as plain text, never as rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson
from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from trailhound.cli.common import say, say_skipped_rule_files
from trailhound.cli.tables import print_table
from trailhound.engine.dialects import DIALECTS
from trailhound.errors import RuleError
from trailhound.escaping import printable
from trailhound.rules.athena_view import ATHENA_TABLE, view_sql
from trailhound.rules.attack import technique_ids
from trailhound.rules.duration import format_duration
from trailhound.rules.export import TABLE, export_rules, export_text
from trailhound.rules.field_check import absent_field_note
from trailhound.rules.loader import LoadResult, load_rules, shipped_pack_dir
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    NewTermsSpec,
    QuerySpec,
    Rule,
    RuleException,
    SequenceSpec,
    Spec,
    Suppression,
    Threat,
    ThresholdSpec,
)
from trailhound.rules.parameters import not_configured

_PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


@click.group()
def rules() -> None:
    """Work with detection rules."""


@rules.command()
@_PATHS
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check rule files and report every problem with its location.

    PATHS are rule files or directories (default: the rules shipped with trailhound).
    Exits with status 1 when any rule has a problem.
    """
    result = _load(paths)
    for error in result.errors:
        click.echo(str(error))
    for note in (*result.notes, *_absent_field_warnings(result.rules)):
        click.echo(f"{note.location()}: note: {note.message}")
    click.echo(_summary(result))
    if result.errors:
        ctx.exit(1)


@rules.command(name="list")
@_PATHS
@click.option("--format", "output_format", type=click.Choice(["table", "jsonl"]),
              default="table", show_default=True,
              help="A table for people, or one JSON object a line for scripts (the same on a "
              "terminal or not).")  # fmt: skip
@click.pass_context
def list_rules(ctx: click.Context, paths: tuple[Path, ...], output_format: str) -> None:
    """List rules: name, type, severity, risk score, rule_id and ATT&CK techniques."""
    result = _load(paths)
    listed = sorted(result.rules, key=lambda r: r.name.casefold())
    if output_format == "jsonl":
        for rule in listed:
            click.echo(orjson.dumps(_listed(rule)).decode())
    else:
        table = Table("Name", "Type", "Severity", "Risk", "Rule ID", "ATT&CK")
        for rule in listed:
            table.add_row(
                Text(rule.name),
                Text(rule.type),
                Text(rule.severity),
                Text(str(rule.risk_score)),
                Text(rule.rule_id),
                Text(", ".join(technique_ids(rule.threat))),
            )
        print_table(table)
    for rule in result.rules:
        if rule.unconfigured:
            say(not_configured(rule))
    _report_problems(ctx, result.errors)


def _listed(rule: Rule) -> dict[str, object]:
    return {
        "rule_id": rule.rule_id, "name": rule.name, "type": rule.type,
        "severity": rule.severity, "risk_score": rule.risk_score, "enabled": rule.enabled,
        "techniques": technique_ids(rule.threat), "file": rule.source,
    }  # fmt: skip


@rules.command()
@click.argument("rule")
@click.option(
    "--rules",
    "paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Rule file or directory to search (repeatable; default: the shipped rules).",
)
def show(rule: str, paths: tuple[Path, ...]) -> None:
    """Show one rule, found by rule_id or name, with its investigation guide."""
    result = _load(paths)
    found = _find(result.rules, rule)
    if found is None:
        hint = f"; {len(result.errors)} problem(s) in the rules, see `trailhound rules validate`"
        raise click.ClickException(
            f"no rule with id or name {rule!r}" + (hint if result.errors else "")
        )
    Console(highlight=False).print(_describe(found))


def _load(paths: Sequence[Path]) -> LoadResult:
    result = load_rules(list(paths) or [shipped_pack_dir()])
    say_skipped_rule_files(result.skipped)
    return result


def _absent_field_warnings(rules: Iterable[Rule]) -> list[RuleError]:
    warnings: list[RuleError] = []
    for rule in rules:
        message = absent_field_note(rule)
        if message is not None:
            warnings.append(RuleError(message, where=rule.source))
    return warnings


def _summary(result: LoadResult) -> str:
    valid = f"{len(result.rules)} rule{'' if len(result.rules) == 1 else 's'} valid"
    if not result.errors:
        return valid
    files = len({e.where for e in result.errors})
    problems = f"{len(result.errors)} problem{'' if len(result.errors) == 1 else 's'}"
    return f"{valid}, {problems} in {files} file{'' if files == 1 else 's'}"


def _report_problems(ctx: click.Context, errors: Sequence[RuleError]) -> None:
    for error in errors:
        click.echo(printable(str(error), None), err=True)  # the file name is input
    if errors:
        ctx.exit(1)


def _find(rules: Iterable[Rule], wanted: str) -> Rule | None:
    candidates = list(rules)
    for rule in candidates:
        if wanted in (rule.rule_id, rule.name):
            return rule
    folded = wanted.casefold()
    return next((r for r in candidates if r.name.casefold() == folded), None)


def _describe(rule: Rule) -> RenderableType:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for label, value in _facts(rule):
        facts.add_row(label, Text(value))
    parts: list[RenderableType] = [Text(rule.name, style="bold underline"), facts]
    for title, body in (("Description", rule.description), ("Query", rule.query)):
        if body.strip():
            parts += [Text(""), Text(title, style="bold"), Text(body.strip())]
    for title, body in (("Setup", rule.setup), ("Investigation guide", rule.note)):
        if body.strip():
            parts += [Text(""), Text(title, style="bold"), Markdown(body)]
    return Group(*parts)


def _facts(rule: Rule) -> list[tuple[str, str]]:
    facts = [
        ("rule_id", rule.rule_id),
        ("type", rule.type),
        ("severity", f"{rule.severity} (risk score {rule.risk_score})"),
        ("version", str(rule.version)),
        ("enabled", "yes" if rule.enabled else "no"),
        ("schedule", _schedule(rule)),
        *_spec_facts(rule.spec),
    ]
    if rule.suppression is not None:
        facts.append(("suppression", _suppression(rule.suppression)))
    for p in rule.parameters:
        chosen = ", ".join(p.values) or "none: the rule is not configured and does not run"
        facts.append((f"parameter {p.name}", f"{p.field} one of: {chosen}"))
    facts += [(f"ATT&CK {t.tactic_id}", _threat(t)) for t in rule.threat]
    listed = (
        ("index", rule.index),
        ("tags", rule.tags),
        ("investigation fields", rule.investigation_fields),
        ("references", rule.references),
        ("false positives", tuple(" ".join(f.split()) for f in rule.false_positives)),
    )
    facts += [(label, "\n".join(values)) for label, values in listed if values]
    facts += [("exception", _exception(e)) for e in rule.exceptions]
    if rule.tests:
        facts.append(("tests", ", ".join(f"{t.name} ({t.expect_alerts})" for t in rule.tests)))
    facts.append(("file", rule.source))
    return facts


def _schedule(rule: Rule) -> str:
    text = (
        f"every {format_duration(rule.interval)}, looking back {format_duration(rule.lookback)}, "
        f"at most {rule.max_signals} alerts a run"
    )
    if rule.timestamp_override:
        text += f"; time from {rule.timestamp_override}"
    return text


def _spec_facts(spec: Spec) -> list[tuple[str, str]]:
    match spec:
        case QuerySpec():
            return []
        case ThresholdSpec():
            group = ", ".join(spec.fields) or "all events"
            window = format_duration(spec.window) if spec.window else "the lookback"
            text = f"count >= {spec.value} per {group} within {window}"
            text += "".join(f"; distinct {c.field} >= {c.value}" for c in spec.cardinality)
            return [("threshold", text)]
        case NewTermsSpec():
            text = f"new {' + '.join(spec.fields)} within {format_duration(spec.history_window)}"
            if spec.learning_period:
                text += f"; learning for {format_duration(spec.learning_period)}"
            return [("new terms", text)]
        case SequenceSpec():
            by = ", ".join(spec.by) or "nothing"
            steps = [(f"step {i}", s.query.strip()) for i, s in enumerate(spec.steps, start=1)]
            return [("sequence", f"by {by} within {format_duration(spec.maxspan)}"), *steps]
        case BaselineSpec():
            return [("baseline", _baseline_text(spec))]
        case CorrelationSpec():
            facts = [(f"fact {i}", f"{f.key} -> {f.value} from {f.query.strip()}")
                     for i, f in enumerate(spec.facts, start=1)]  # fmt: skip
            remember = format_duration(spec.remember)
            return [("correlation", f"{spec.key} known within {remember}"), *facts]
    return []


def _baseline_text(spec: BaselineSpec) -> str:
    per = f"per {', '.join(spec.fields)} per {format_duration(spec.window)}"
    bars = [f">= {spec.min_count}"]
    if spec.factor is not None:
        bars.append(f">= {spec.factor:g} x mean")
    if spec.deviations is not None:
        bars.append(f">= mean + {spec.deviations:g} sd")
    history = format_duration(spec.history)
    warmup = format_duration(spec.min_history)
    return f"count {per} {' and '.join(bars)} of {history}; warm-up {warmup}"


def _suppression(suppression: Suppression) -> str:
    per = ", ".join(suppression.group_by) or "threshold group"
    span = format_duration(suppression.duration) if suppression.duration else "each run"
    return f"one alert per {per} per {span} (missing fields: {suppression.missing_fields_strategy})"


def _threat(threat: Threat) -> str:
    lines = [threat.tactic_name]
    for technique in threat.techniques:
        lines.append(f"{technique.id} {technique.name}")
        lines += [f"  {s.id} {s.name}" for s in technique.subtechniques]
    return "\n".join(lines)


def _exception(exception: RuleException) -> str:
    match = " and ".join(f"{c.field} {c.kind} {' | '.join(c.values)}" for c in exception.conditions)
    until = f" (until {exception.expires.isoformat()})" if exception.expires else ""
    return f"{exception.description or match}{until}"


@rules.command(name="test")
@_PATHS
@click.option("--verbose", "-v", is_flag=True, help="List passing tests too.")
@click.pass_context
def test_rules(ctx: click.Context, paths: tuple[Path, ...], verbose: bool) -> None:
    """Run the test events each rule carries and check the alerts they make.

    Each [[tests]] entry's records go through its rule alone, with fresh state; the test passes
    when they make exactly `expect_alerts` alerts. Exits with status 1 when any test fails.
    """
    from trailhound.pipeline.rule_tests import run_rule_tests, summary

    result = _load(paths)
    outcomes = run_rule_tests(result.rules)
    for outcome in outcomes:
        if outcome.passed and not verbose:
            continue
        mark = "ok  " if outcome.passed else "FAIL"
        line = f"{mark} {outcome.rule.name} / {outcome.test.name}"
        if not outcome.passed:
            line += f": expected {outcome.test.expect_alerts} alerts, got {outcome.alerts}"
        click.echo(line)
        for problem in outcome.problems:
            click.echo(f"     {problem}")
    untested = [r.name for r in result.rules if not r.tests]
    if untested:
        click.echo(f"{len(untested)} rules carry no tests: {', '.join(untested)}")
    click.echo(summary(outcomes))
    if result.errors or any(not o.passed for o in outcomes):
        _report_problems(ctx, result.errors)
        ctx.exit(1)


@rules.command(name="export")
@click.argument("wanted", metavar="[RULE]...", nargs=-1)
@click.option("--dialect", type=click.Choice(list(DIALECTS)), required=True,
              help="The SQL engine the text is for.")
@click.option("--rules", "paths", multiple=True, type=click.Path(path_type=Path),
              help="Rule file or directory (repeatable; default: the shipped rules).")
@click.option("--table", default=TABLE, show_default=True,
              help="The normalized events table the SQL reads (docs/normalized-table.md).")
@click.option("--view", "with_view", is_flag=True,
              help="Athena only: begin with a view that reads AWS's documented CloudTrail "
              "table (cloudtrail_logs) as the normalized table.")
@click.option("--source", default=ATHENA_TABLE, show_default=True,
              help="With --view: the name of your Athena CloudTrail table.")
@click.pass_context
def export(ctx: click.Context, wanted: tuple[str, ...], dialect: str, paths: tuple[Path, ...],
           table: str, with_view: bool, source: str) -> None:  # fmt: skip
    """Print each rule's SQL for another engine, over the normalized events table.

    RULE picks rules by rule_id or name (default: every rule). A rule the dialect cannot
    express, or that cannot run, is named in a comment with the reason.
    """
    if with_view and dialect != "athena":
        raise click.UsageError("--view reads Athena's CloudTrail table: use --dialect athena")
    result = _load(paths)
    chosen = _chosen(result.rules, wanted)
    exported = export_rules(chosen, dialect=dialect, now=datetime.now(UTC), table=table)
    if with_view:
        click.echo(view_sql(name=table, source=source) + ";\n")
    click.echo(export_text(exported, dialect=dialect, table=table), nl=False)
    left_out = [e for e in exported if e.sql is None]
    for e in left_out:
        say(f"not exported: {e.rule.name}: {e.reason}")
    _report_problems(ctx, result.errors)


def _chosen(loaded: Sequence[Rule], wanted: Sequence[str]) -> list[Rule]:
    if not wanted:
        return sorted(loaded, key=lambda r: r.name.casefold())
    chosen: list[Rule] = []
    for name in wanted:
        found = _find(loaded, name)
        if found is None:
            raise click.ClickException(f"no rule with id or name {printable(name)!r}")
        chosen.append(found)
    return chosen
