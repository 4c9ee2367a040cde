"""A scan that reads records files through the skimmer tells exactly what a scan that decodes
every record tells, over good and hostile records alike: the same alerts, and every record
set aside or changed at the same position for the same reason."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from fuzz.harness import NOW, enricher, folder, pack
from fuzz.hostile import deep, duplicated_keys, odd_number, wrong_type
from fuzz.profiles import fuzz
from fuzz.strategies import Record, good_records
from trailhound.pipeline.scan import scan
from trailhound.pipeline.stage import SKIM_VARIABLE
from trailhound.sources.files import open_local
from trailhound.state.store import Store


def _element(draw: st.DrawFn, n: int) -> bytes:
    """One hostile element of a records file: kept, changed or set aside, never fatal."""
    bad = st.one_of(wrong_type(n), duplicated_keys(n), odd_number(n), deep(n, st.integers(2, 200)))
    return draw(bad).rstrip(b"\n")


@st.composite
def records_files(draw: st.DrawFn, records: list[Record]) -> dict[str, bytes]:
    """`records` in a few `{"Records": [...]}` files, some with hostile elements among them,
    some pretty-printed, some gzipped."""
    files: dict[str, bytes] = {}
    cut = max(1, len(records) // draw(st.integers(1, 3)))
    for number, start in enumerate(range(0, len(records), cut)):
        indent = draw(st.sampled_from([None, 1]))
        elements = [json.dumps(r, indent=indent).encode() for r in records[start : start + cut]]
        for n in range(draw(st.integers(0, 2))):
            at = draw(st.integers(0, len(elements)))
            elements.insert(at, _element(draw, 1000 * number + n))
        text = b'{"Records": [' + b",\n".join(elements) + b"]}\n"
        zipped = draw(st.booleans())
        files[f"{number:03d}.json" + (".gz" if zipped else "")] = (
            gzip.compress(text) if zipped else text
        )
    return files


def told(path: Path, skim: str) -> dict[str, Any]:
    before = os.environ.get(SKIM_VARIABLE)
    os.environ[SKIM_VARIABLE] = skim
    store = Store.open(None)
    try:
        result = scan([open_local(str(path))], pack(), store=store, enricher=enricher(), now=NOW)
    finally:
        store.close()
        if before is None:
            del os.environ[SKIM_VARIABLE]
        else:
            os.environ[SKIM_VARIABLE] = before
    report = result.report
    return {
        "alerts": sorted((a.id, a.count) for a in result.alerts),
        "events": result.stats.events,
        "problems": [(p.reason, p.where, p.position, p.detail) for p in report.problems],
        "changes": report.changes,
        "summary": report.summary(),
        "normalized": report.records_normalized,
    }


@given(records=good_records(max_bursts=3), data=st.data())
@fuzz(0.1)
def test_the_skimmer_s_way_tells_what_decoding_every_record_tells(
    records: list[Record], data: st.DataObject
) -> None:
    files = data.draw(records_files(records))
    with folder(files) as path:
        usual = told(path, "off")
        skimmed = told(path, "reference")
        compiled = told(path, "compiled")  # small files a few to a call
    event(f"set aside: {'some' if usual['problems'] else 'none'}")
    assert skimmed == usual
    assert compiled == usual
