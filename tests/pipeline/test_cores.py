"""The CPUs a scan may use, from its affinity and its cgroup's `cpu.max` (`cores.capacity`)."""

from __future__ import annotations

import pytest

from trailhound.pipeline import cores


@pytest.mark.parametrize(
    ("cpus", "cpu_max", "usable"),
    [
        (8, None, 8.0),  # no cgroup v2 to read: the CPUs it may run on
        (8, "max 100000\n", 8.0),  # no quota
        (8, "150000 100000\n", 1.5),  # a container of one and a half CPUs on a large host
        (8, "50000 100000", 0.5),
        (2, "400000 100000\n", 2.0),  # a quota above the CPUs it may run on
        (4, "", 4.0),  # texts this reading does not know count as no limit
        (4, "max", 4.0),
        (4, "-1 100000", 4.0),
        (4, "100000 0", 4.0),
    ],
)
def test_the_usable_cpus_are_the_fewer_of_the_affinity_and_the_quota(
    cpus: int, cpu_max: str | None, usable: float
) -> None:
    assert cores.capacity(cpus, cpu_max) == usable


def test_one_cpu_allowed_is_never_spare_for_the_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """However idle the machine (here, all of its eight cores), one allowed CPU is the
    scanning process's own."""
    monkeypatch.setattr(cores, "idle_cores", lambda since: 8.0)
    monkeypatch.setattr(cores, "usable_cores", lambda: cores.capacity(8, "100000 100000"))
    assert not cores.spare(None)
    monkeypatch.setattr(cores, "usable_cores", lambda: cores.capacity(8, "200000 100000"))
    assert cores.spare(None)


def test_a_machine_whose_idle_time_is_unknown_has_no_core_to_spare() -> None:
    # no tick counted since the reading ended (a run too short to tell), or no /proc/stat
    assert cores.idle_cores(None) == 0.0
    assert not cores.spare(None)
