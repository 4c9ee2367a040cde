"""Same seed, same bytes; another seed, another trail; --events sets the volume."""

from __future__ import annotations

from pathlib import Path

from trailhound.simulate import SimulationResult, simulate


def _contents(out_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out_dir).as_posix(): p.read_bytes()
        for p in sorted(out_dir.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_gives_the_same_bytes(small_sim: SimulationResult, small_events: int,
                                            tmp_path: Path) -> None:
    again = simulate(tmp_path / "again", events=small_events)
    assert _contents(again.out_dir) == _contents(small_sim.out_dir)


def test_another_seed_gives_another_trail(tmp_path: Path) -> None:
    one = _contents(simulate(tmp_path / "one", days=1, events=3000, seed=1).out_dir)
    two = _contents(simulate(tmp_path / "two", days=1, events=3000, seed=2).out_dir)
    assert one["answer_key.json"] != two["answer_key.json"]
    assert set(one) != set(two)  # object names carry random suffixes, as S3 deliveries do


def test_events_sets_the_volume(small_sim: SimulationResult, small_events: int,
                                tmp_path: Path) -> None:
    assert abs(small_sim.events - small_events) <= small_events * 0.05
    bigger = simulate(tmp_path / "bigger", days=2, events=60_000)
    assert abs(bigger.events - 60_000) <= 60_000 * 0.05
