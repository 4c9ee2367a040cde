"""The facts a report shows, worked out from alert dicts (`Alert.to_dict()`, as the ledger and
`scan -o` keep them) and the `Scope` of the input: severities, rules, rankings, the story of
each actor. Values stay as they came; the page escapes them when it renders.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trailhound.alerts.summary import AlertSummary, Technique, field_values, summarize
from trailhound.report.scope import Scope

SEVERITIES = ("critical", "high", "medium", "low")
UNRATED = "unrated"  # an alert whose rule names no severity we know
RANK = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}
MOST_RANKED = 10
MOST_STORIES = 25
MOST_STEPS = 40
ROUTINE = 10
"""Alerts of one rule for one actor from which that rule is routine for them: a stretch of
routine alerts makes one step of their story, so the rare ones between stand out."""
UNKNOWN_ACTOR = "unknown principal"


@dataclass(frozen=True)
class RuleView:
    index: int
    rule_id: str
    name: str
    severity: str
    kind: str  # the rule type: query, threshold, new_terms, ...
    techniques: tuple[Technique, ...]
    guide: str  # Markdown, as the rule file has it
    alerts: int


@dataclass(frozen=True)
class AlertView:
    index: int  # position in time order; marks, cards and the page's data share it
    alert: Mapping[str, Any]
    summary: AlertSummary
    time: int  # epoch µs
    severity: str  # one of SEVERITIES or UNRATED
    rule: int  # RuleView.index
    networks: tuple[str, ...]
    user_agents: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """Alerts that follow each other in an actor's story, told once: of one rule, or of the
    rules that are routine for that actor."""

    rules: tuple[tuple[int, int], ...]  # RuleView.index, alerts; most first
    severity: str  # the worst of them
    alerts: int
    first: int
    last: int
    tables: tuple[str, ...]
    actions: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Story:
    actor: str
    accounts: tuple[str, ...]
    alerts: int
    worst: str
    rules: int  # how many rules their alerts are of
    first: int
    last: int
    steps: tuple[Step, ...]
    steps_left_out: int


@dataclass(frozen=True)
class Ranking:
    title: str
    rows: tuple[tuple[str, int], ...]  # value, alerts that name it; most first
    distinct: int


@dataclass(frozen=True)
class ReportData:
    title: str
    generated: datetime
    scope: Scope
    alerts: tuple[AlertView, ...]  # oldest first
    rules: tuple[RuleView, ...]
    severities: tuple[tuple[str, int], ...]  # every severity, most severe first
    start: int | None  # the time the page covers (epoch µs), None when it has nothing
    end: int | None
    accounts: tuple[tuple[str, int], ...]
    regions: tuple[tuple[str, int], ...]
    rankings: tuple[Ranking, ...]
    stories: tuple[Story, ...]
    actors: int  # how many actors have a story, shown or not


def gather(
    alerts: Iterable[Mapping[str, Any]],
    scope: Scope,
    *,
    title: str = "trailhound hunt report",
    now: datetime | None = None,
) -> ReportData:
    """The report's facts. Alerts outside the scope's time window are left out."""
    rules: dict[tuple[str, str], RuleView] = {}
    views: list[AlertView] = []
    for alert in sorted(_unique(alerts), key=lambda a: (_time(a), str(a.get("id")))):
        time = _time(alert)
        if not _inside(time, scope):
            continue
        # the guide is rendered once per rule, so its triage step need not be found per alert
        summary = summarize({k: v for k, v in alert.items() if k != "guide"})
        rule = _rule(rules, alert, summary)
        views.append(
            AlertView(
                index=len(views),
                alert=alert,
                summary=summary,
                time=time,
                severity=severity_of(summary.severity),
                rule=rule.index,
                networks=networks(alert),
                user_agents=field_values(alert, "user_agent.original"),
            )
        )
    counted = Counter(v.rule for v in views)
    rule_views = tuple(_with_count(r, counted[r.index]) for r in rules.values())
    start, end = _span(views, scope)
    stories = _stories(views)
    return ReportData(
        title=title,
        generated=now or datetime.now(UTC),
        scope=scope,
        alerts=tuple(views),
        rules=rule_views,
        severities=_severities(views),
        start=start,
        end=end,
        accounts=_places(scope, views, 0, lambda s: s.accounts),
        regions=_places(scope, views, 1, lambda s: s.regions),
        rankings=(
            _ranking("Actors", (v.summary.actors for v in views)),
            _ranking("Source countries", (v.summary.countries for v in views)),
            _ranking("Source networks", (v.networks for v in views)),
            _ranking("Tables", (v.summary.tables for v in views)),
        ),
        stories=tuple(stories[:MOST_STORIES]),
        actors=len(stories),
    )


def severity_of(value: Any) -> str:
    text = str(value or "").strip().lower()
    return text if text in RANK else UNRATED


def networks(alert: Mapping[str, Any]) -> tuple[str, ...]:
    """The networks the alert's sources are in: the AS when a MaxMind ASN database named it,
    else the address's /24 (IPv4) or /48 (IPv6), which groups an attacker's neighbouring
    addresses without a database."""
    named = field_values(alert, "source.as.organization.name")
    if named:
        return named
    numbers = field_values(alert, "source.as.number")
    if numbers:
        return tuple(f"AS{n}" for n in numbers)
    found: dict[str, None] = {}
    for ip in field_values(alert, "source.ip"):
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        prefix = 24 if address.version == 4 else 48
        found[str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))] = None
    return tuple(found)


def _unique(alerts: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    seen: set[str] = set()
    for alert in alerts:
        alert_id = str(alert.get("id", ""))
        if alert_id and alert_id in seen:
            continue
        seen.add(alert_id)
        yield alert


def _time(alert: Mapping[str, Any]) -> int:
    """The alert's time (epoch µs); 0 when it has none a reader understands, so that a damaged
    alert still shows, first."""
    text = alert.get("@timestamp")
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _inside(time: int, scope: Scope) -> bool:
    return (scope.since is None or time >= scope.since) and (
        scope.until is None or time < scope.until
    )


def _rule(
    rules: dict[tuple[str, str], RuleView], alert: Mapping[str, Any], summary: AlertSummary
) -> RuleView:
    key = (summary.rule_id, summary.rule_name)
    found = rules.get(key)
    if found is None:
        rule = alert.get("rule")
        kind = rule.get("type") if isinstance(rule, Mapping) else None
        guide = alert.get("guide")
        found = RuleView(
            index=len(rules),
            rule_id=summary.rule_id,
            name=summary.rule_name or summary.rule_id or "unnamed rule",
            severity=severity_of(summary.severity),
            kind=str(kind or ""),
            techniques=summary.techniques,
            guide=guide if isinstance(guide, str) else "",
            alerts=0,
        )
        rules[key] = found
    return found


def _with_count(rule: RuleView, alerts: int) -> RuleView:
    return RuleView(
        rule.index, rule.rule_id, rule.name, rule.severity, rule.kind, rule.techniques,
        rule.guide, alerts,
    )  # fmt: skip


def _severities(views: Sequence[AlertView]) -> tuple[tuple[str, int], ...]:
    counted = Counter(v.severity for v in views)
    shown = [(s, counted[s]) for s in SEVERITIES]
    return tuple(shown + ([(UNRATED, counted[UNRATED])] if counted[UNRATED] else []))


def _span(views: Sequence[AlertView], scope: Scope) -> tuple[int | None, int | None]:
    times = [v.time for v in views]
    for start in scope.activity or {}:
        if _inside(start, scope) or _inside(start + scope.step - 1, scope):
            times += [start, start + scope.step - 1]
    if not times:
        return None, None
    start, end = min(times), max(times)
    if scope.since is not None:
        start = max(start, scope.since)
    if scope.until is not None:
        end = min(end, scope.until)
    return start, max(start, end)


def _places(
    scope: Scope,
    views: Sequence[AlertView],
    part: int,
    of_summary: Callable[[AlertSummary], tuple[str, ...]],
) -> tuple[tuple[str, int], ...]:
    """Accounts or regions: by DynamoDB events read when the report comes from a scan, else
    by alerts."""
    counted: Counter[str] = Counter()
    if scope.places is not None:
        for place, events in scope.places.items():
            counted[place[part] or "(not recorded)"] += events
    else:
        for view in views:
            counted.update(of_summary(view.summary))
    return tuple(counted.most_common())


def _ranking(title: str, values: Iterable[tuple[str, ...]]) -> Ranking:
    counted: Counter[str] = Counter()
    for found in values:
        counted.update(set(found))
    return Ranking(title, tuple(counted.most_common(MOST_RANKED)), len(counted))


def _stories(views: Sequence[AlertView]) -> list[Story]:
    """Per actor, their alerts in time order: an actor named by several alerts' evidence is in
    each of those stories. The actors who did the worst come first."""
    by_actor: dict[str, list[AlertView]] = {}
    for view in views:
        for actor in view.summary.actors or (UNKNOWN_ACTOR,):
            by_actor.setdefault(actor, []).append(view)
    stories = [_story(actor, found) for actor, found in by_actor.items()]
    stories.sort(key=lambda s: (-RANK.get(s.worst, 0), -s.rules, -s.alerts, s.actor))
    return stories


def _story(actor: str, views: Sequence[AlertView]) -> Story:
    per_rule = Counter(v.rule for v in views)
    runs: list[list[AlertView]] = []
    for view in views:  # already in time order
        if runs and _together(runs[-1][-1].rule, view.rule, per_rule):
            runs[-1].append(view)
        else:
            runs.append([view])
    steps = [_step(run) for run in runs]
    accounts = dict.fromkeys(a for v in views for a in v.summary.accounts)
    return Story(
        actor=actor,
        accounts=tuple(accounts),
        alerts=len(views),
        worst=max((v.severity for v in views), key=lambda s: RANK.get(s, 0)),
        rules=len(per_rule),
        first=views[0].time,
        last=views[-1].time,
        steps=tuple(steps[:MOST_STEPS]),
        steps_left_out=max(0, len(steps) - MOST_STEPS),
    )


def _together(before: int, after: int, per_rule: Mapping[int, int]) -> bool:
    return before == after or (per_rule[before] >= ROUTINE and per_rule[after] >= ROUTINE)


def _step(run: Sequence[AlertView]) -> Step:
    def distinct(values: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for found in values for v in found))

    return Step(
        rules=tuple(Counter(v.rule for v in run).most_common()),
        severity=max((v.severity for v in run), key=lambda s: RANK.get(s, 0)),
        alerts=len(run),
        first=run[0].time,
        last=run[-1].time,
        tables=distinct(v.summary.tables for v in run),
        actions=distinct(v.summary.actions for v in run),
        sources=distinct(v.summary.sources for v in run),
    )
