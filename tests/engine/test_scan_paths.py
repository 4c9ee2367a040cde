"""The fast paths of a scan change nothing a user sees: workers, skipped records, partial
normalization and evidence rebuilt from kept records give the alerts a plain reading gives."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events, read_selected
from trailhound.cloudtrail.report import Report
from trailhound.engine import alert_making
from trailhound.pipeline import local_engine
from trailhound.pipeline import scan as scanning
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.pipeline.stage import StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources.files import open_local
from trailhound.state import ledger
from trailhound.state.store import Store


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=2, seed=5, events=12_000)
    return out


def run(folder: Path, workers: int | None, rules: list[Any] | None = None) -> ScanResult:
    store = Store.open(None)
    try:
        return scan(
            [open_local(str(folder))],
            rules if rules is not None else load_rules([shipped_pack_dir()]).rules,
            store=store,
            workers=workers,
        )
    finally:
        store.close()


def without_read_time(document: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(json.dumps(document, default=str))
    document.get("event", {}).pop("ingested", None)
    return document


def alerts(result: ScanResult) -> dict[str, Any]:
    return {
        a.id: (a.count, a.event_ids, [without_read_time(e) for e in a.evidence])
        for a in result.alerts
    }


def test_workers_find_the_same_alerts_and_counts_as_one_process(corpus: Path) -> None:
    one, two = run(corpus, 1), run(corpus, 2)
    assert one.alerts and alerts(two) == alerts(one)
    assert two.stats.events == one.stats.events > 10_000
    assert two.stats.matched == one.stats.matched
    assert (two.report.files_read, two.report.records_normalized) == (
        one.report.files_read,
        one.report.records_normalized,
    )
    assert two.coverage.dynamodb == one.coverage.dynamodb


@pytest.mark.parametrize("threshold", [0, 1 << 40])
def test_automatic_workers_find_the_same_alerts(
    corpus: Path, threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left to choose, a scan uses one worker per core for a large input (here, any input),
    and one process for a small one (here, every input); the alerts are the same."""
    monkeypatch.setattr(local_engine, "AUTO_WORKERS_BYTES", threshold)
    chosen, one = run(corpus, None), run(corpus, 1)
    assert one.alerts and alerts(chosen) == alerts(one)
    assert chosen.stats.matched == one.stats.matched


@pytest.mark.parametrize(("batch_size", "workers"), [(257, 1), (257, 2), (1 << 20, 1)])
def test_any_batch_size_finds_the_same_alerts(
    corpus: Path, batch_size: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of a few hundred records, or as many as the reader allows, decide the same
    alerts, with the same counts and evidence, as the default batches."""

    class Batches(StagePlan):
        @classmethod
        def build(cls, rules: Any, **options: Any) -> StagePlan:
            return StagePlan.build(rules, **{**options, "batch_size": batch_size})

    default = run(corpus, 1)
    monkeypatch.setattr(scanning, "StagePlan", Batches)
    other = run(corpus, workers)
    assert default.alerts and alerts(other) == alerts(default)
    assert other.stats.matched == default.stats.matched


# (alerts, evidence bytes) per part: one at a time, all together, parts cut by their bytes
_PARTS = [(1, 1 << 40), (1 << 20, 1 << 40), (1 << 20, 20_000)]


@pytest.mark.parametrize(("per_part", "part_bytes"), _PARTS)
def test_evidence_is_the_full_normalization_of_the_event(
    corpus: Path, per_part: int, part_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also when alerts are made one at a time: each evidence pack is opened once for all of
    them, its records kept for the alerts made after the one that opened it."""
    monkeypatch.setattr(alert_making, "ALERTS_PER_PART", per_part)
    monkeypatch.setattr(alert_making, "PART_BYTES", part_bytes)
    result = run(corpus, 1)
    batches = read_events([open_local(str(corpus))], enricher=Enricher.create(), report=Report())
    full = {doc["event"]["id"]: without_read_time(doc) for b in batches for doc in to_documents(b)}
    shown = [e for a in result.alerts for e in a.evidence]
    assert len(shown) > 50
    for document in shown:
        assert without_read_time(document) == full[document["event"]["id"]]


def test_events_no_rule_reads_still_count_for_coverage(shared_data: Path) -> None:
    # only a rule on Scan: the DescribeTable record is skipped, yet it is a management event
    scanned = [r for r in load_rules([shipped_pack_dir()]).rules if r.name.endswith("Scanned")]
    result = run(shared_data / "dynamodb-real" / "single_record_describe_table.json", 1, scanned)
    assert result.stats.events == 1 and result.report.records_normalized == 0
    assert result.coverage.dynamodb["Management"] == 1
    assert any("no data events" in line for line in result.coverage.blind_spots(scanned))


def test_a_skipped_record_leaves_the_positions_of_the_others_right(tmp_path: Path) -> None:
    def record(n: int, source: str, time: str) -> dict[str, Any]:
        return {"eventTime": time, "eventSource": source, "eventName": "X", "eventID": str(n)}

    lines = [
        record(1, "dynamodb.amazonaws.com", "2026-03-01T00:00:00Z"),
        record(2, "s3.amazonaws.com", "not a time"),  # skipped: never looked at
        record(3, "dynamodb.amazonaws.com", "not a time"),
    ]
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress("\n".join(json.dumps(x) for x in lines).encode()))
    report = Report()
    parts = list(
        read_selected(
            open_local(str(path)).blobs(),  # type: ignore[arg-type]
            enricher=Enricher.create(),
            report=report,
            select=lambda records: [
                i for i, r in enumerate(records) if r.eventSource != "s3.amazonaws.com"
            ],
        )
    )
    assert [r.eventID for p in parts for r in p.records] == ["1"]
    assert [p.position for p in report.problems] == ["line 3"]


def test_an_in_memory_store_spills_to_a_directory_it_removes() -> None:
    store = Store.open(None, memory_limit="64MB")
    scratch = store.con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert Path(scratch).is_dir() and limit.startswith("61")  # 64 MB in MiB
    store.close()
    assert not Path(scratch).exists()


def _forkservers() -> list[str]:
    """This process's children that are multiprocessing's fork server."""
    children = []
    for task in Path("/proc/self/task").iterdir():
        children += (task / "children").read_text().split()
    lines = []
    for pid in children:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # it ended meanwhile
            continue
    return [line for line in lines if "forkserver" in line]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_the_fork_server_ends_with_the_workers_and_a_later_scan_starts_another(
    corpus: Path,
) -> None:
    # once the workers are done the server only holds memory through the end of the run
    first = run(corpus, 2)
    assert _forkservers() == []
    assert alerts(run(corpus, 2)) == alerts(first) and first.alerts
    assert _forkservers() == []
    one_file = next(corpus.rglob("*.json.gz"))
    run(one_file, 2)  # too little input for workers: the one started early is ended too
    assert _forkservers() == []


def test_the_store_keeps_its_memory_limit_again_after_a_run(corpus: Path) -> None:
    store = Store.open(None)
    try:
        assert scan([open_local(str(corpus))], load_rules([shipped_pack_dir()]).rules,
                    store=store, workers=1).alerts  # fmt: skip
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert limit == "183.1 MiB"  # 192 MB
    finally:
        store.close()


@pytest.mark.parametrize(("per_part", "part_bytes"), _PARTS)
def test_alerts_without_evidence_still_reach_the_ledger_whole(
    corpus: Path, per_part: int, part_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan asked not to keep evidence (the CLI without `--report`) returns the same alerts
    bare, and enters each in the ledger exactly as a scan that keeps it does, whether its
    alerts are made and entered one at a time, all together, or in parts cut by bytes."""
    monkeypatch.setattr(alert_making, "ALERTS_PER_PART", per_part)
    monkeypatch.setattr(alert_making, "PART_BYTES", part_bytes)
    kept, kept_ledger = _run_with_ledger(corpus, keep_evidence=True)
    bare, bare_ledger = _run_with_ledger(corpus, keep_evidence=False)
    assert len(kept.alerts) > 20 and all(a.evidence for a in kept.alerts)
    assert [a.id for a in bare.alerts] == [a.id for a in kept.alerts]
    assert all(a.evidence == () for a in bare.alerts)
    assert [a.investigation for a in bare.alerts] == [a.investigation for a in kept.alerts]
    assert bare_ledger == kept_ledger
    assert all(len(doc["evidence"]) for doc in kept_ledger.values())


def _run_with_ledger(folder: Path, *, keep_evidence: bool) -> tuple[ScanResult, dict[str, Any]]:
    store = Store.open(None)
    try:
        result = scan(
            [open_local(str(folder))], load_rules([shipped_pack_dir()]).rules, store=store,
            workers=1, keep_evidence=keep_evidence,
        )  # fmt: skip
        stored = {
            entry.alert_id: {**entry.alert, "evidence": [without_read_time(e)
                                                         for e in entry.alert["evidence"]]}
            for entry in ledger.stored(store)
        }  # fmt: skip
    finally:
        store.close()
    return result, stored
