"""Sigma rules (YAML) as a rule format: read through pySigma, each rule and correlation of a
file becomes a trailhound `Rule` whose filter is the predicate tree `sigma_backend` builds.

A file may hold several rules (`---` documents). Files loaded together are read as one pySigma
collection, so a correlation may name (by id or name) rules of any of them, as `sigma convert`
does with the files it is given; its reports stay with its own file. A correlation's rules are
not run on their own unless they say `generate: true`, as Sigma means. A deprecated rule is left
out with a note; a rule trailhound cannot run is refused with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError, SigmaRuleLocation, SigmaRuleNotFoundError
from sigma.modifiers import SigmaWindowsDashModifier
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.rule.attributes import SigmaStatus

from trailhound.errors import RuleError
from trailhound.rules import kql_ast as k
from trailhound.rules.elastic import RuleReport
from trailhound.rules.model import QuerySpec, Rule, Spec
from trailhound.rules.sigma_backend import TreeBackend
from trailhound.rules.sigma_correlation import CorrelationError, correlation_spec
from trailhound.rules.sigma_fields import cloudtrail_pipeline
from trailhound.rules.sigma_meta import metadata

LANGUAGE = "sigma"
_KEYS = {"rule_id": "id", "name": "title"}


def read_rules(text: str, *, source: str) -> list[RuleReport]:
    """Every rule of one Sigma file, or why it cannot run."""
    (reports,) = read_files([(text, source)])
    return reports


def read_files(files: Sequence[tuple[str, str]]) -> list[list[RuleReport]]:
    """The reports of several Sigma files, given as (text, source), read together so that a
    correlation may name rules of any of them; one list per file, in the order given."""
    reports: dict[str, list[RuleReport]] = {source: [] for _, source in files}
    collections: list[SigmaCollection] = []
    for text, source in files:
        parsed = _parse(text, source)
        if isinstance(parsed, RuleReport):
            reports[source].append(parsed)
        else:
            collections.append(parsed)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    reading = _Reading(_Sources([source for _, source in files]))
    for correlation, missing in _unresolved(merged):
        merged.rules.remove(correlation)
        reports[reading.sources.of(correlation)].append(reading.failed(missing, correlation))
    try:
        merged.resolve_rule_references()
    except SigmaError as err:
        return [[*reports[source], RuleReport(source, None, (_error(err, source),))]
                for _, source in files]  # fmt: skip
    for source, report in reading.reports(merged):
        reports[source].append(report)
    return [reports[source] for _, source in files]


def _parse(text: str, source: str) -> SigmaCollection | RuleReport:
    try:
        # references are resolved, and filters applied, once all the files are read
        return SigmaCollection.from_yaml(
            text,
            collect_errors=True,
            source=SigmaRuleLocation(Path(source)),
            collect_filters=True,
            resolve_references=False,
        )
    except SigmaError as err:
        return RuleReport(source, None, (_error(err, source),))
    except yaml.YAMLError as err:
        return RuleReport(source, None, (_yaml_error(err, source),))


def _unresolved(
    collection: SigmaCollection,
) -> list[tuple[SigmaCorrelationRule, SigmaRuleNotFoundError]]:
    """The correlations that name a rule none of the files has, each with the first such."""
    found = []
    for rule in collection.rules:
        if not isinstance(rule, SigmaCorrelationRule):
            continue
        for name in _references(rule):
            try:
                collection[name]
            except SigmaRuleNotFoundError as err:
                found.append((rule, err))
                break
    return found


def _references(rule: SigmaCorrelationRule) -> list[str]:
    if rule.rules is not None:
        return [ref.reference for ref in rule.rules]
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        return list(rule.condition.get_referenced_rules())
    return []


class _Sources:
    """Which file each rule of a merged collection came from (pySigma keeps its location)."""

    def __init__(self, sources: Sequence[str]) -> None:
        self._by_path = {str(Path(source)): source for source in sources}
        self._default = sources[0] if sources else ""

    def of(self, rule: SigmaRule | SigmaCorrelationRule) -> str:
        location = rule.source
        path = str(location.path) if location is not None and location.path else None
        return self._by_path.get(path or "", self._default)


def locate_key(text: str, key: str) -> tuple[int | None, int | None]:
    """Line and column of a rule's `id` or `title` (the first document's), for messages."""
    wanted = _KEYS.get(key, key)
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"{re.escape(wanted)}\s*:", line):
            return number, 1
    return None, None


@dataclass
class _Reading:
    sources: _Sources
    backend: TreeBackend = field(init=False)
    trees: dict[int, tuple[str, k.Node]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.backend = TreeBackend(processing_pipeline=cloudtrail_pipeline())
        self.backend.init_processing_pipeline()

    def reports(self, collection: SigmaCollection) -> Iterator[tuple[str, RuleReport]]:
        """(file, report) of every rule to run or to refuse."""
        # Rules come first, so a correlation finds the trees of the rules it names.
        ordered = sorted(collection.rules, key=lambda r: isinstance(r, SigmaCorrelationRule))
        for sigma_rule in ordered:
            report = self.report(sigma_rule)
            if sigma_rule._output or report.errors:
                yield report.source, report

    def report(self, sigma_rule: SigmaRule | SigmaCorrelationRule) -> RuleReport:
        source = self.sources.of(sigma_rule)
        if sigma_rule.status == SigmaStatus.DEPRECATED:
            note = f"{sigma_rule.title!r} is deprecated: left out"
            return RuleReport(source, None, notes=(self.error(note, sigma_rule),))
        if sigma_rule.errors:
            return RuleReport(source, None, tuple(self.at(e, source) for e in sigma_rule.errors))
        query = _query_text(sigma_rule)  # before the pipeline rewrites the rule's fields
        try:
            tree, spec = self.convert(sigma_rule)
        except (SigmaError, CorrelationError) as err:
            return self.failed(err, sigma_rule)
        return RuleReport(source, self.rule(sigma_rule, query, tree, spec))

    def failed(self, err: Exception, sigma_rule: SigmaRule | SigmaCorrelationRule) -> RuleReport:
        source = self.sources.of(sigma_rule)
        return RuleReport(source, None, (self.at(err, source, sigma_rule),))

    def convert(self, sigma_rule: SigmaRule | SigmaCorrelationRule) -> tuple[k.Node, Spec]:
        if isinstance(sigma_rule, SigmaCorrelationRule):
            missing = [r.reference for r in sigma_rule.rules or () if id(r.rule) not in self.trees]
            if missing:
                raise CorrelationError(f"it names rules that did not load: {', '.join(missing)}")
            self.backend.apply_pipeline(sigma_rule)
            return correlation_spec(sigma_rule, self.trees)
        _refuse_windash(sigma_rule)
        trees: list[k.Node] = self.backend.convert_rule(sigma_rule) or list(
            sigma_rule.get_conversion_result()
        )
        # several conditions are several queries: an event matching any of them is a match
        tree = trees[0] if len(trees) == 1 else k.Or(tuple(trees))
        self.trees[id(sigma_rule)] = (sigma_rule.title, tree)
        return tree, QuerySpec()

    def rule(
        self, sigma_rule: SigmaRule | SigmaCorrelationRule, query: str, tree: k.Node, spec: Spec
    ) -> Rule:
        return Rule(
            **metadata(sigma_rule),
            query=query,
            ast=tree,
            spec=spec,
            language=LANGUAGE,
            source=self.sources.of(sigma_rule),
        )

    def error(self, message: str, sigma_rule: SigmaRule | SigmaCorrelationRule) -> RuleError:
        line = sigma_rule.source.line if sigma_rule.source is not None else None
        return RuleError(message, where=self.sources.of(sigma_rule), line=line)

    def at(
        self,
        err: Exception,
        source: str,
        sigma_rule: SigmaRule | SigmaCorrelationRule | None = None,
    ) -> RuleError:
        message = str(err.args[0]) if err.args else str(err)
        title = f"{sigma_rule.title!r}: " if sigma_rule is not None else ""
        line = getattr(getattr(err, "source", None), "line", None)
        if line is None and sigma_rule is not None and sigma_rule.source is not None:
            line = sigma_rule.source.line
        return RuleError(title + message, where=source, line=line)


def _refuse_windash(sigma_rule: SigmaRule) -> None:
    for item in _items(sigma_rule.detection.detections.values()):
        if SigmaWindowsDashModifier in item.modifiers:
            raise CorrelationError(
                f"field {item.field!r}: |windash rewrites Windows command-line switches, "
                "which CloudTrail does not have"
            )


def _items(detections: Any) -> Iterator[SigmaDetectionItem]:
    for detection in detections:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                yield from _items([item])
            else:
                yield item


def _query_text(sigma_rule: SigmaRule | SigmaCorrelationRule) -> str:
    """What `rules show` prints as the query: the detection or correlation, as written."""
    whole = sigma_rule.to_dict()
    part = {key: whole[key] for key in ("detection", "correlation") if key in whole}
    return yaml.safe_dump(part, sort_keys=False, allow_unicode=True).strip()


def _error(err: SigmaError, source: str) -> RuleError:
    line = err.source.line if err.source is not None else None
    return RuleError(str(err.args[0]) if err.args else str(err), where=source, line=line)


def _yaml_error(err: yaml.YAMLError, source: str) -> RuleError:
    mark = getattr(err, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return RuleError(
        f"not YAML: {getattr(err, 'problem', err)}", where=source, line=line, column=column
    )
