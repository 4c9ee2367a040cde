"""Ctrl-C while a module is being imported: a compiled module's initialization cut short by
KeyboardInterrupt can abort the whole process (DuckDB's did: "Critical nanobind error" and
SIGABRT instead of the one-line interruption), so the interruption waits for the import."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trailhound.cli import exits


@pytest.fixture()
def listening() -> Iterator[list[int]]:
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield exits._listen_for_ctrl_c()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_an_import_interrupts_once_the_module_is_imported(
    listening: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the module is interrupted while it sets itself up, as a compiled one calling Python is
    (tmp_path / "interrupted_while_set_up.py").write_text(
        "import signal, time\nsignal.raise_signal(signal.SIGINT)\ntime.sleep(0.1)\nDONE = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        import interrupted_while_set_up  # noqa: F401

        time.sleep(5)  # the interruption comes here, after the import
    assert sys.modules["interrupted_while_set_up"].DONE
    assert listening
    sys.modules.pop("interrupted_while_set_up")


def test_ctrl_c_outside_an_import_interrupts_at_once(listening: list[int]) -> None:
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        time.sleep(5)
    assert time.monotonic() - began < 1 and listening
