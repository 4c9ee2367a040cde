"""The one switch over the optional compiled extensions: off, each of them answers as if it had
not been built, so its Python reference does the work; and it comes back on leaving."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest

from trailhound.cloudtrail import compiled_columns, extensions, request_readers
from trailhound.cloudtrail.skim import compiled_skimmer

TEXTS = pa.array(["x", None, ""])


@pytest.fixture(autouse=True)
def _built() -> None:
    missing = [name for name in extensions.NAMES if not extensions.built(name)]
    if missing:
        pytest.skip(f"not built (no compiler?): {', '.join(missing)}")


def _on() -> dict[str, bool]:
    """Whether each extension's user takes the compiled way."""
    return {
        "_skim": compiled_skimmer(["eventName"]) is not None,
        "_columns": compiled_columns.cleaned(TEXTS) is not None,
        "_requests": request_readers.compiled_readers() is not None,
    }


def test_each_is_switched_off_alone_and_comes_back() -> None:
    assert _on() == dict.fromkeys(extensions.NAMES, True)
    for name in extensions.NAMES:
        with extensions.off(name):
            assert _on() == {other: other != name for other in extensions.NAMES}
            assert extensions.built(name)
        assert _on() == dict.fromkeys(extensions.NAMES, True)


def test_off_without_names_is_every_extension_and_nests() -> None:
    with extensions.off("_columns"):
        with extensions.off():
            assert _on() == dict.fromkeys(extensions.NAMES, False)
        assert _on() == {name: name != "_columns" for name in extensions.NAMES}
    assert _on() == dict.fromkeys(extensions.NAMES, True)


def test_switched_off_the_users_answer_as_without_a_compiler() -> None:
    with extensions.off():
        assert not compiled_columns.present()
        assert compiled_columns.coalesced([TEXTS, TEXTS], True) is None
        assert compiled_columns.outcome(TEXTS, TEXTS) is None
        assert compiled_columns.event_times(TEXTS) is None
        assert compiled_columns.holding(TEXTS, np.array([0], np.int64), "xy") is None
        assert compiled_columns.codes(TEXTS) is None
        assert request_readers.readers() is request_readers.PYTHON_READERS
        with pytest.raises(RuntimeError, match="switched off"):
            request_readers.compiled_only("BatchWriteItem", TEXTS)


def test_the_switch_is_the_setting_threads_own() -> None:
    """A test's switch does not reach a thread it did not start inside it."""
    seen: list[dict[str, bool]] = []
    ready, done = threading.Event(), threading.Event()

    def other() -> None:
        ready.wait()
        seen.append(_on())
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with extensions.off():
        ready.set()
        done.wait()
    thread.join()
    assert seen == [dict.fromkeys(extensions.NAMES, True)]


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="_skimmer"), extensions.off("_skimmer"):
        pass
