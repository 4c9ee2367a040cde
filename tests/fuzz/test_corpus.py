"""The regression corpus (tests/fuzz/corpus/): every input the fuzzer found, replayed as a
plain test with the fuzzer's own assertions."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from fuzz import known
from fuzz.harness import alert_ids, cli, escaped_lines, folder, normalize

CORPUS = Path(__file__).parent / "corpus"
GOOD = (CORPUS / "good.ndjson").read_bytes()


def _case(path: Path) -> Any:
    case = json.loads(path.read_text())
    marks = [getattr(known, case["defect"])] if case["defect"] else []
    return pytest.param(case, id=path.stem, marks=marks)


CASES = [_case(p) for p in sorted(CORPUS.glob("*.json"))]


def _files(case: dict[str, Any]) -> dict[str, bytes]:
    return {
        name: base64.b64decode(c["base64"]) if "base64" in c else c["text"].encode()
        for name, c in case["files"].items()
    }


def good_ids() -> set[str]:
    return {json.loads(raw)["eventID"] for raw in GOOD.splitlines()}


def test_the_corpus_is_whole() -> None:
    """Every case names a defect that has a mark (or none), and the good file alerts, so that
    "the alerts of the good file alone" means something."""
    for param in CASES:
        (case,) = param.values
        assert case["defect"] is None or hasattr(known, case["defect"]), param.id
    with folder({"good.ndjson": GOOD}) as path:
        assert alert_ids(path)


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: dict[str, Any]) -> None:
    with folder({"good.ndjson": GOOD}) as path:
        expected = alert_ids(path)
    with folder({"good.ndjson": GOOD, **_files(case)}) as path:
        out = normalize(path)
        missing = (good_ids() | set(case["survivors"])) - set(out.ids)
        assert not missing, sorted(missing)
        assert alert_ids(path) == expected
        result = cli("normalize", str(path))
        assert escaped_lines(result.stderr, prefixed=True) == []
