"""The CPUs a scan may use, from its affinity and its cgroups' `cpu.max` (`cores.capacity`)."""

from __future__ import annotations

from pathlib import Path

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
    assert cores.capacity(cpus, [] if cpu_max is None else [cpu_max]) == usable


def _cgroups(mount: Path, quotas: dict[str, str]) -> None:
    for folder, text in quotas.items():
        (mount / folder).mkdir(parents=True, exist_ok=True)
        (mount / folder / "cpu.max").write_text(text)


@pytest.mark.parametrize(
    ("quotas", "cgroup", "usable"),
    [
        # a slice of one CPU around a service whose own cgroup sets no limit
        ({"slice": "100000 100000\n", "slice/svc": "max 100000\n"}, "/slice/svc", 1.0),
        # the tightest of a pod's and its container's quotas
        ({"pod": "300000 100000", "pod/box": "150000 100000"}, "/pod/box", 1.5),
        ({"pod": "120000 100000", "pod/box": "150000 100000"}, "/pod/box", 1.2),
        # a container seen through its namespace: its quota at the mount's root
        ({".": "100000 100000"}, "/", 1.0),
        # a cgroup outside the namespace is read as its root; a sibling's quota is not ours
        ({".": "max 100000", "other": "50000 100000"}, "/../../outside", 8.0),
        ({"other": "50000 100000"}, "/mine", 8.0),
    ],
)
def test_a_quota_of_the_cgroup_or_any_cgroup_above_it_limits_the_cpus(
    tmp_path: Path, quotas: dict[str, str], cgroup: str, usable: float
) -> None:
    _cgroups(tmp_path, quotas)
    assert cores.capacity(8, cores._cpu_maxes(tmp_path, cgroup)) == usable


def test_one_cpu_allowed_is_never_spare_for_the_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """However idle the machine (here, all of its eight cores), one allowed CPU is the
    scanning process's own."""
    monkeypatch.setattr(cores, "idle_cores", lambda since: 8.0)
    monkeypatch.setattr(cores, "usable_cores", lambda: cores.capacity(8, ["100000 100000"]))
    assert not cores.spare(None)
    monkeypatch.setattr(cores, "usable_cores", lambda: cores.capacity(8, ["200000 100000"]))
    assert cores.spare(None)


def test_a_machine_whose_idle_time_is_unknown_has_no_core_to_spare() -> None:
    # no tick counted since the reading ended (a run too short to tell), or no /proc/stat
    assert cores.idle_cores(None) == 0.0
    assert not cores.spare(None)
