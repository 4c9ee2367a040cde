"""A helper is ended by its pidfd whatever number that descriptor has: a process that calls
trailhound as a library may hold more than a thousand files open when its scan ends."""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Iterator

import pytest

from trailhound.pipeline import helper

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfds (Linux)")

_MANY = 1100  # above select()'s FD_SETSIZE of 1024


@pytest.fixture
def many_files_open() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < _MANY + 64:
        if hard != resource.RLIM_INFINITY and hard < _MANY + 64:
            pytest.skip("this machine allows too few open files")
        resource.setrlimit(resource.RLIMIT_NOFILE, (_MANY + 64, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(_MANY)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_helper_whose_pidfd_is_numbered_past_1024_is_ended(many_files_open: None) -> None:
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    process = context.Process(target=time.sleep, args=(120,), daemon=True)
    process.start()
    theirs.close()
    kept = helper.Helper.watched(process, ours)
    try:
        assert kept.pidfd is not None and kept.pidfd >= 1024
        helper.end_now(kept)
    finally:
        if process.is_alive():
            process.kill()
            process.join()
    assert process.exitcode == -9  # killed, and reaped here
