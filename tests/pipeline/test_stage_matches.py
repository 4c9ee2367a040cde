"""A stage stores of each batch exactly what finishing all of the batch's matches stores: the
same rows and columns, the same evidence pack byte for byte and the same hits, though it
takes the stored columns only at the rows thinning keeps."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.kept import Kept
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.stage import Stage, StagePlan, kept_matches
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources import open_source

Finished = tuple[pa.Table | None, bytes | None, Counter[str]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=2, seed=11, events=6_000)
    return out


@pytest.mark.parametrize("batch_size", [300, 4096])
def test_a_stage_stores_what_its_batches_whole_matches_finish_as(
    corpus: Path, batch_size: int
) -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plan = StagePlan.build(
        rules, enricher=Enricher.create(), filters=filters, batch_size=batch_size
    )
    stage = Stage(plan)
    pairs: list[tuple[Finished, Finished]] = []
    stored = stage._matches

    def both(batch: pa.RecordBatch, records: list[Kept]) -> Finished:
        mine = stored(batch, records)
        matched = stage.matcher.match(batch, keep=plan.stored)
        whole: Finished = (None, None, Counter())
        if matched is not None:
            whole = kept_matches(matched, plan.eligibility, lambda rows: [records[i] for i in rows])
        pairs.append((mine, whole))
        return mine

    stage._matches = both  # type: ignore[method-assign]
    blobs = list(blobs_of([open_source(str(corpus))], Report()))
    events = sum(out.events for out in stage.run(blobs, Report()))
    assert events > 5_000
    assert sum(len(mine[0] or []) for mine, _ in pairs) > 100  # the pack's rules matched
    assert any(mine[1] for mine, _ in pairs)
    for (table, pack, hits), (whole_table, whole_pack, whole_hits) in pairs:
        assert (table is None) == (whole_table is None)
        if table is not None and whole_table is not None:
            assert table.schema == whole_table.schema
            assert table.to_pylist() == whole_table.to_pylist()
        assert pack == whole_pack
        assert hits == whole_hits
