"""Sigma rules (YAML) as a rule format: read through pySigma, each rule and correlation of a
file becomes a trailhound `Rule` whose filter is the predicate tree `sigma_backend` builds.

A file may hold several rules (`---` documents); a correlation's rules are not run on their own
unless they say `generate: true`, as Sigma means. A deprecated rule is left out with a note; a
rule trailhound cannot run is refused with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
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
    try:
        collection = SigmaCollection.from_yaml(
            text, collect_errors=True, source=SigmaRuleLocation(Path(source))
        )
        collection.resolve_rule_references()
    except SigmaError as err:
        return [RuleReport(source, None, (_error(err, source),))]
    except yaml.YAMLError as err:
        return [RuleReport(source, None, (_yaml_error(err, source),))]
    return list(_Reading(source).reports(collection))


def locate_key(text: str, key: str) -> tuple[int | None, int | None]:
    """Line and column of a rule's `id` or `title` (the first document's), for messages."""
    wanted = _KEYS.get(key, key)
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"{re.escape(wanted)}\s*:", line):
            return number, 1
    return None, None


@dataclass
class _Reading:
    source: str
    backend: TreeBackend = field(init=False)
    trees: dict[int, tuple[str, k.Node]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.backend = TreeBackend(processing_pipeline=cloudtrail_pipeline())
        self.backend.init_processing_pipeline()

    def reports(self, collection: SigmaCollection) -> Iterator[RuleReport]:
        # Rules come first, so a correlation finds the trees of the rules it names.
        ordered = sorted(collection.rules, key=lambda r: isinstance(r, SigmaCorrelationRule))
        for sigma_rule in ordered:
            report = self.report(sigma_rule)
            if sigma_rule._output or report.errors:
                yield report

    def report(self, sigma_rule: SigmaRule | SigmaCorrelationRule) -> RuleReport:
        if sigma_rule.status == SigmaStatus.DEPRECATED:
            note = f"{sigma_rule.title!r} is deprecated: left out"
            return RuleReport(self.source, None, notes=(self.error(note, sigma_rule),))
        if sigma_rule.errors:
            return RuleReport(self.source, None, tuple(self.at(e) for e in sigma_rule.errors))
        query = _query_text(sigma_rule)  # before the pipeline rewrites the rule's fields
        try:
            tree, spec = self.convert(sigma_rule)
        except (SigmaError, CorrelationError) as err:
            return RuleReport(self.source, None, (self.at(err, sigma_rule),))
        return RuleReport(self.source, self.rule(sigma_rule, query, tree, spec))

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
            source=self.source,
        )

    def error(self, message: str, sigma_rule: SigmaRule | SigmaCorrelationRule) -> RuleError:
        line = sigma_rule.source.line if sigma_rule.source is not None else None
        return RuleError(message, where=self.source, line=line)

    def at(
        self, err: Exception, sigma_rule: SigmaRule | SigmaCorrelationRule | None = None
    ) -> RuleError:
        message = str(err.args[0]) if err.args else str(err)
        title = f"{sigma_rule.title!r}: " if sigma_rule is not None else ""
        line = getattr(getattr(err, "source", None), "line", None)
        return RuleError(title + message, where=self.source, line=line)


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
