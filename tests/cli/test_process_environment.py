"""The `trailhound` command sets what its libraries read from the environment when they load:
NumPy's OpenBLAS to one thread (trailhound does no linear algebra, and the threads cost every
start CPU), Arrow's mimalloc to ordinary pages (clearing a 2 MB page at each first touch cost
a one-process scan a tenth of its CPU); unless the user set their own value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = (
    "import os, sys\nfrom trailhound.cli import run\nsys.argv = ['trailhound', '--version']\n"
    "try:\n    run()\nexcept SystemExit:\n    pass\n"
    "print(os.environ.get({name!r}))\n"
)


def _seen(name: str, given: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != name}
    if given is not None:
        env[name] = given
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(name=name)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("3", "3")])
def test_openblas_runs_one_thread_unless_the_user_chose(given: str | None, seen: str) -> None:
    assert _seen("OPENBLAS_NUM_THREADS", given) == seen


@pytest.mark.parametrize(("given", "seen"), [(None, "0"), ("1", "1")])
def test_arrow_keeps_to_ordinary_pages_unless_the_user_chose(given: str | None, seen: str) -> None:
    assert _seen("MIMALLOC_ALLOW_THP", given) == seen
