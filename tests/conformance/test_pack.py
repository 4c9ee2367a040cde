"""The whole shipped pack on every engine: the simulator's day of CloudTrail (against its
answer key) and the real data in ../shared/data, with the same alert ids as the reference."""

from __future__ import annotations

from pathlib import Path

from conformance.conftest import Runner
from support.corpus import comparable
from trailhound.demo import compare
from trailhound.rules.model import Rule
from trailhound.simulate import SimulationResult


def test_the_pack_finds_the_answer_key_on_simulated_cloudtrail(
    engine: Runner, simulated: SimulationResult, pack: list[Rule], simulated_ids: list[str]
) -> None:
    result = engine.scan([simulated.out_dir], pack)
    checked = compare(simulated, result, pack)
    assert checked.exact, (checked.missing[:3], checked.unexpected[:3], checked.miscounted[:3])
    assert sorted(a.id for a in result.alerts) == simulated_ids
    assert result.stats.events > 10_000 and result.complete


def test_the_pack_on_the_shared_data_gives_the_reference_alerts(
    engine: Runner, reference: Runner, shared_data: Path, pack: list[Rule]
) -> None:
    """Every folder of real and hostile input, read whole: the same alerts, evidence
    included, and the same account of what was set aside."""
    expected = reference.scan([shared_data], pack)
    result = engine.scan([shared_data], pack)
    assert expected.alerts
    # without when each scan read the events (`event.ingested`)
    assert [comparable(a.to_dict()) for a in result.alerts] == [
        comparable(a.to_dict()) for a in expected.alerts
    ]
    assert result.report.summary() == expected.report.summary()
    assert result.stats.events == expected.stats.events
    assert result.coverage.dynamodb == expected.coverage.dynamodb
