"""CPU per selected record of normalizing from member columns (`cloudtrail.columnar`) against
normalizing decoded records (`ecs.normalize`), action by action, on one core.

    python bench/columnar.py DIR              # DIR: a corpus folder (holds AWSLogs/)
    python bench/columnar.py DIR --files 1500

Selects records as a scan worker does, in batches as a worker makes them, and times, for each
batch and each (source, action) in it, both normalizers on that action's records with the
fields the shipped pack reads for it (as `bench/stages.py`'s second table). The member columns,
text and raw (`columnar.RAW_PATHS`: a member's JSON text as it stands in the record), are made
from each record's JSON beforehand (a skimmer's work, not timed here). The columnar
route's figure includes `normalize` of the rows it leaves, and is `normalize`'s own for the
actions `columnar.takes` refuses.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pyarrow as pa

from trailhound.cloudtrail.columnar import RAW_PATHS, normalized_columns, paths_for, takes
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import DEFAULT_BATCH_SIZE, blobs_of
from trailhound.cloudtrail.record import Record, decode_record
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import keyed_path
from trailhound.engine.filtering import FilterPlan
from trailhound.engine.prefilter import column_plan
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import open_source


class _File(msgspec.Struct):
    Records: list[msgspec.Raw]


class _RawMembers(msgspec.Struct):
    """The members read raw, each its exact text in the record (empty where absent)."""

    requestParameters: msgspec.Raw = msgspec.Raw()
    responseElements: msgspec.Raw = msgspec.Raw()
    resources: msgspec.Raw = msgspec.Raw()


@dataclass
class Cost:
    records: int = 0
    normalize: float = 0.0
    columnar: float = 0.0
    left: int = 0
    supported: bool = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=None, help="only the first N files")
    args = parser.parse_args()
    print(measure(args.corpus, args.files))


def measure(corpus: Path, files: int | None) -> str:
    gc.disable()  # as in a scan: nothing here makes cycles
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    enricher.warm_up()
    now = datetime.now(UTC)
    pick = Stage(StagePlan.build(rules, enricher=enricher,
                                 filters=FilterPlan.build(rules, now=now)))._select  # fmt: skip
    columns_for = column_plan(rules, []).columns_for
    costs: dict[str, Cost] = defaultdict(Cost)
    read = [0]
    for batch in _batches(corpus, files, pick, read):
        groups: dict[tuple[str | None, str], list[tuple[Record, bytes]]] = defaultdict(list)
        for record, text in batch:
            groups[(record.eventSource, record.eventName)].append((record, text))
        for (source, action), group in groups.items():
            _time_group(costs[action], group, columns_for(source, action), now, enricher)
    return _table(costs, read[0])


def _time_group(cost: Cost, group: list[tuple[Record, bytes]], fields: frozenset[str],
                now: datetime, enricher: Enricher) -> None:  # fmt: skip
    """The least CPU of a few alternating runs of each route (the machine is shared): all the
    records through `normalize`, or through `normalized_columns` and the rows it leaves
    through `normalize`."""
    records = [record for record, _ in group]
    cost.records += len(group)
    first = records[0]
    if not takes(fields, first.eventSource, first.eventName):
        spent = _least(lambda: normalize(records, ingested=now, enricher=enricher, fields=fields))
        cost.normalize += spent
        cost.columnar += spent
        cost.supported = False
        cost.left += len(group)
        return
    texts = [text for _, text in group]
    paths = paths_for(fields)
    # a skimmer's keys columns are left out (optional): the members' texts are searched instead
    text_paths = [p for p in paths if p not in RAW_PATHS and keyed_path(p) is None]
    columns = _columns([orjson.loads(t) for t in texts], text_paths)
    columns.update(_raw_columns(texts, [p for p in paths if p in RAW_PATHS]))
    left = [records[i] for i in normalized_columns(columns, fields, now, enricher).left]
    old, new = [], []
    for _ in range(REPEAT):
        old.append(_least(lambda: normalize(records, ingested=now, enricher=enricher,
                                            fields=fields), 1))  # fmt: skip
        new.append(_least(lambda: _columnar_route(columns, fields, now, enricher, left), 1))
    cost.normalize += min(old)
    cost.columnar += min(new)
    cost.left += len(left)


def _columnar_route(columns: dict[str, pa.Array], fields: frozenset[str], now: datetime,
                    enricher: Enricher, left: list[Record]) -> None:  # fmt: skip
    normalized_columns(columns, fields, now, enricher)
    if left:
        normalize(left, ingested=now, enricher=enricher, fields=fields)


REPEAT = 3


def _least(work: Callable[[], object], times: int = REPEAT) -> float:
    spent = []
    for _ in range(times):
        started = time.process_time()
        work()
        spent.append(time.process_time() - started)
    return min(spent)


def _raw_columns(texts: list[bytes], paths: list[str]) -> dict[str, pa.Array]:
    """The raw paths' columns as a skimmer gives them: null where absent or JSON null."""
    members = [_RAW_DECODER.decode(text) for text in texts]
    columns = {}
    for path in paths:
        found = [bytes(getattr(m, path)).decode() for m in members]
        columns[path] = pa.array([t if t and t != "null" else None for t in found], pa.string())
    return columns


_RAW_DECODER = msgspec.json.Decoder(_RawMembers)


def _columns(values: list[dict[str, Any]], paths: list[str]) -> dict[str, pa.Array]:
    columns = {}
    for path in paths:
        found = []
        for value in values:
            for name in path.split("."):
                value = value.get(name) if isinstance(value, dict) else None
            found.append(value)
        columns[path] = pa.array(found, pa.string())
    return columns


def _batches(corpus: Path, files: int | None, pick: Any,
             read: list[int]) -> Iterator[list[tuple[Record, bytes]]]:  # fmt: skip
    decoder = msgspec.json.Decoder(_File)
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    selected: list[tuple[Record, bytes]] = []
    for blob in blobs:
        texts = [bytes(raw) for raw in decoder.decode(b"".join(blob.chunks())).Records]
        records = [decode_record(t) for t in texts]
        read[0] += len(records)
        selected += [(records[i], texts[i]) for i in pick(records)]
        if len(selected) >= DEFAULT_BATCH_SIZE:
            yield selected
            selected = []
    if selected:
        yield selected


def _table(costs: dict[str, Cost], read: int) -> str:
    total = sum(c.records for c in costs.values())
    old = sum(c.normalize for c in costs.values())
    new = sum(c.columnar for c in costs.values())
    lines = [
        f"{total:,} selected records; µs per record of each action's own records:",
        "",
        "| action | records | normalize | columnar, and normalize for the rows left | left |",
        "|---|---:|---:|---:|---:|",
    ]
    for action, c in sorted(costs.items(), key=lambda item: -item[1].normalize)[:12]:
        columnar = f"{c.columnar / c.records * 1e6:.1f}" if c.supported else "(normalize)"
        lines.append(f"| {action} | {c.records:,} | {c.normalize / c.records * 1e6:.1f} | "
                     f"{columnar} | {c.left / c.records:.0%} |")  # fmt: skip
    left = sum(c.left for c in costs.values())
    lines.append(f"| **all** | {total:,} | {old / total * 1e6:.2f} | {new / total * 1e6:.2f} "
                 f"| {left / total:.0%} |")  # fmt: skip
    lines += ["", f"Per event read ({read:,}): normalize {old / read * 1e6:.2f} µs, columnar "
              f"and normalize for the rows left {new / read * 1e6:.2f} µs."]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
