"""Evidence documents made while the matches are still being read change nothing a user sees:
whatever the order the files are read in and however many workers read them, a scan that
guesses (often, here) gives the alerts, counts, evidence and ledger of one that does not."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from trailhound.engine import alert_making
from trailhound.engine import detector as detecting
from trailhound.engine.alert_making import AlertMaker, written
from trailhound.engine.early_evidence import EarlyEvidence
from trailhound.escaping import json_bytes
from trailhound.pipeline import scan as scanning
from trailhound.pipeline.scan import scan
from trailhound.pipeline.stage import StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources.files import open_local
from trailhound.state import ledger
from trailhound.state.store import Store


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=2, seed=7, events=12_000)
    return sorted(p for p in out.rglob("*.json.gz"))


def without_read_time(value: Any) -> Any:
    """`value` as JSON, without the evidence's `event.ingested` (when the scan read it)."""
    if isinstance(value, dict):
        return {k: without_read_time(v) for k, v in value.items() if k != "ingested"}
    if isinstance(value, list):
        return [without_read_time(v) for v in value]
    return value


# what a run leaves for the next besides the ledger (the matches by their numbers and packs)
_KEPT = [
    "suppression_windows", "terms", "clocks", "counted", "baseline_windows", "baseline_events",
    "facts", "(SELECT rule_id, seq, evidence_chunk FROM matches)",
]  # fmt: skip


class SmallBatches(StagePlan):
    @classmethod
    def build(cls, rules: Any, **options: Any) -> StagePlan:
        return StagePlan.build(rules, **{**options, "batch_size": 300})


def outcome(files: list[Path], workers: int, keep: bool) -> tuple[Any, ...]:
    """The alerts a scan returns, its ledger's texts (key order included), and what it keeps
    for the next run."""
    store = Store.open(None)
    try:
        result = scan([open_local(str(f)) for f in files], load_rules([shipped_pack_dir()]).rules,
                      store=store, workers=workers, keep_evidence=keep)  # fmt: skip
        shown = {
            a.id: (a.count, a.event_ids, without_read_time(json.loads(json.dumps(a.evidence))))
            for a in result.alerts
        }
        entries = [json.dumps(without_read_time(e.alert)) for e in ledger.stored(store)]
        kept = [store.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                for table in _KEPT]  # fmt: skip
        return shown, entries, kept
    finally:
        store.close()


@pytest.mark.parametrize(("order", "workers", "keep"), [(None, 1, True), (1, 2, False),
                                                       (2, 1, False)])  # fmt: skip
def test_guessing_early_gives_the_alerts_of_deciding_at_the_end(
    files: list[Path], order: int | None, workers: int, keep: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`keep`: the alerts are returned with their evidence (as to a library's user), or
    without (as to the command, which delivers from the ledger)."""
    if order is not None:
        files = random.Random(order).sample(files, len(files))
    # small batches, each stored at once: so the detector guesses after many of them
    monkeypatch.setattr(scanning, "StagePlan", SmallBatches)
    monkeypatch.setattr(detecting, "_INSERT_ROWS", 1)
    guesses, taken = [], []  # documents made by each guess; of those, taken at the end
    guess, documents = EarlyEvidence.guess, AlertMaker._evidence_documents

    def counted_guess(self: EarlyEvidence, failed: Any) -> None:
        guess(self, failed)
        guesses.append(len(self.ready))

    def counted_documents(self: AlertMaker, candidates: Any, shown: Any) -> Any:
        taken.extend(s for s in self._seqs(candidates) if s in self.ready)
        return documents(self, candidates, shown)

    monkeypatch.setattr(EarlyEvidence, "guess", counted_guess)
    monkeypatch.setattr(AlertMaker, "_evidence_documents", counted_documents)
    early = outcome(files, workers, keep)
    monkeypatch.setattr(
        scanning, "Detector", functools.partial(detecting.Detector, early_evidence=False)
    )
    at_the_end = outcome(files, workers, keep)
    assert len(guesses) >= 3 and len(taken) > 20  # documents were made early and taken
    assert early[0] and early[1] and all(early[2][:2]) and early == at_the_end


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**70])
def test_a_document_that_would_not_read_back_is_left_to_the_end(value: Any) -> None:
    assert written({"event": {"id": "1"}, "n": value}, ["event.id"]) is None


def test_a_document_written_ahead_keeps_its_nulls_and_investigated_values() -> None:
    doc = {"user": {"name": "alice"}, "flattened": {"a": None, "b": [1, "x"]}}
    ahead = written(doc, ["user.name", "source.ip"])
    assert ahead is not None and orjson.loads(ahead.text) == doc
    assert ahead.values() == {"user.name": ["alice"]}


def test_an_alert_with_a_value_orjson_refuses_gets_the_ledger_text_it_always_had() -> None:
    """The ledger writes such an alert with the standard library, which cannot take text
    written ahead: the alert's evidence is then read back, and its text is unchanged."""
    ahead_doc, late_doc = {"event": {"id": "1"}}, {"event": {"id": "2"}, "n": 2**70}
    ahead = written(ahead_doc, [])
    assert ahead is not None
    shown = {"id": "a", "evidence": []}
    parts = alert_making._json_parts(shown, [ahead, late_doc])
    assert json_bytes({**shown, "evidence": parts}) == json_bytes(
        {**shown, "evidence": [ahead_doc, late_doc]}
    )
    fine = alert_making._json_parts(shown, [ahead, ahead_doc])
    assert json_bytes({**shown, "evidence": fine}) == json_bytes(
        {**shown, "evidence": [ahead_doc, ahead_doc]}
    )
