"""The demo: simulate CloudTrail with attacks in it, hunt it with the shipped pack, and check
the alerts against the simulator's answer key.

An alert and a key entry are the same when they name the same rule and the same first
evidence event; counts are compared too, since suppression shapes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from trailhound.alerts.model import Alert
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.rules.parameters import with_values
from trailhound.simulate import ExpectedAlert, SimulationResult, simulate
from trailhound.simulate.world import DECOY_TABLES
from trailhound.sources import open_sources
from trailhound.state.store import Store

_Identity = tuple[str, str]  # rule name, first evidence event id
# The simulated company names its decoy table, as a user does in trailhound.toml.
DECOY_RULE = "AWS DynamoDB Decoy Table Accessed"


@dataclass(frozen=True)
class DemoResult:
    simulation: SimulationResult
    scan: ScanResult
    rules: list[Rule]
    missing: list[ExpectedAlert]  # in the key, not reported
    unexpected: list[Alert]  # reported, not in the key
    miscounted: list[tuple[ExpectedAlert, Alert]]

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.miscounted)

    def per_rule(self) -> list[tuple[str, int, int]]:
        """(rule name, alerts reported, alerts in the key) for every rule of the pack."""
        found = Counter(a.rule.name for a in self.scan.alerts)
        expected = Counter(e.rule for e in self.simulation.alerts)
        return [(r.name, found[r.name], expected[r.name]) for r in self.rules]


def run_demo(workdir: Path, *, days: int = 4, seed: int = 0) -> DemoResult:
    rules = [
        with_values(r, {"decoy_tables": DECOY_TABLES}) if r.name == DECOY_RULE else r
        for r in load_rules([shipped_pack_dir()]).rules
    ]
    simulation = simulate(workdir / "cloudtrail", days=days, seed=seed)
    store = Store.open(None)
    try:
        result = scan(open_sources([str(simulation.out_dir)]), rules, store=store)
    finally:
        store.close()
    return compare(simulation, result, rules)


def compare(simulation: SimulationResult, result: ScanResult, rules: list[Rule]) -> DemoResult:
    reported: dict[_Identity, Alert] = {(a.rule.name, a.event_ids[0]): a for a in result.alerts}
    expected: dict[_Identity, ExpectedAlert] = {
        (e.rule, e.first_event_id): e for e in simulation.alerts
    }
    return DemoResult(
        simulation=simulation,
        scan=result,
        rules=rules,
        missing=[e for i, e in expected.items() if i not in reported],
        unexpected=[a for i, a in reported.items() if i not in expected],
        miscounted=[
            (e, reported[i]) for i, e in expected.items()
            if i in reported and reported[i].count != e.count
        ],
    )
