"""The `trailhound` command keeps NumPy's OpenBLAS to one thread (it does no linear algebra,
and the threads cost every start CPU), unless the user set their own number."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = (
    "import os, sys\nfrom trailhound.cli import run\nsys.argv = ['trailhound', '--version']\n"
    "try:\n    run()\nexcept SystemExit:\n    pass\n"
    "print(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
)


def _threads_seen(given: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("3", "3")])
def test_openblas_runs_one_thread_unless_the_user_chose(given: str | None, seen: str) -> None:
    assert _threads_seen(given) == seen
