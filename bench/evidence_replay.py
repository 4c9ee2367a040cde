"""Where the end of a run's evidence documents go: `documents._rebuilt` replayed on the parts a
real `finish` hands it.

    python bench/evidence_replay.py capture SNAPSHOT_DIR PARTS.arrow   # a finish_cpu.py state
    python bench/evidence_replay.py stages PARTS.arrow [ROUNDS]
    python bench/evidence_replay.py actions PARTS.arrow [ROUNDS]
    python bench/evidence_replay.py columnar PARTS.arrow [ROUNDS]

`capture` decides a copy of the saved state (`bench/finish_cpu.py prepare`) once, as
`finish_cpu.py run` does, and writes every batch `_rebuilt` was given (its `raw` records and
their `event.ingested`) to an Arrow file, one record batch a part. The others replay those
parts in this process with the collector paused, as `finish` has it, and print JSON lines of
CPU seconds (the best of ROUNDS, 5 by default):

- `stages`: `_rebuilt` whole, and its steps one after the other: decoding the records,
  `normalize`, `with_arrivals`, `to_documents`, freeing the documents; a digest of the
  documents (their JSON, keys sorted), to hold a change to the same documents; and the fixed
  cost of one call (a part of one record, 100 calls).
- `actions`: `_rebuilt` on each event name's records alone, in parts of 500: the cost per
  record by kind of call (a kind with few records shows mostly the fixed cost of a call).
- `columnar`: the workers' way for the fields it can make (the compiled skimmer over the
  records, `columnar.normalized_columns`) with `normalize` of the fields it cannot, against
  `normalize` of every field; alternating, and the rows the columnar way leaves.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from trailhound.arrow_setup import probe_without_pandas
from trailhound.cloudtrail import columnar, documents
from trailhound.cloudtrail.arrivals import with_arrivals
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import decode_record
from trailhound.cloudtrail.record_members import RAW_PATHS
from trailhound.cloudtrail.schema import arrow_schema
from trailhound.cloudtrail.skim import compiled_skimmer
from trailhound.collector import paused

Part = tuple[pa.Array, pa.Array]  # a part's raw records and their event.ingested


def capture(snapshot: Path, out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import finish_cpu  # a sibling script, not a package

    caught: list[Part] = []
    rebuilt = documents._rebuilt

    def keeping(raws: pa.Array, ingested: pa.Array, enricher: Enricher) -> Any:
        caught.append((raws, ingested))
        return rebuilt(raws, ingested, enricher)

    documents._rebuilt = keeping
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(snapshot / "state.duckdb", Path(folder) / "state.duckdb")
        print(json.dumps(finish_cpu.run_once(Path(folder))))
    schema = pa.schema([("raw", caught[0][0].type), ("ingested", caught[0][1].type)])
    with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for raws, ingested in caught:
            writer.write_batch(pa.record_batch([raws, ingested], schema=schema))
    print(json.dumps({"parts": len(caught), "records": sum(len(r) for r, _ in caught)}))


def _parts(path: Path) -> list[Part]:
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return [(b.column(0), b.column(1)) for b in table.to_batches()]


def _best(rounds: int, run: Callable[[], Any]) -> float:
    spent = []
    for _ in range(rounds):
        started = time.process_time()
        run()
        spent.append(time.process_time() - started)
    return min(spent)


def stages(parts: list[Part], rounds: int, enricher: Enricher) -> dict[str, Any]:
    """`_rebuilt` whole, its steps apart, the documents' digest and one call's fixed cost."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for step, spent in _steps(parts, enricher).items():
            best[step] = min(best.get(step, spent), spent)
    result: dict[str, Any] = {k: round(v, 4) for k, v in best.items()}
    result["_rebuilt"] = round(_best(rounds, lambda: _rebuild_all(parts, enricher)), 4)
    records = sum(len(raws) for raws, _ in parts)
    result["us_per_record"] = round(result["_rebuilt"] / records * 1e6, 1)
    one = [(parts[0][0].slice(0, 1), parts[0][1].slice(0, 1))] * 100
    result["ms_per_call_fixed"] = round(_best(rounds, lambda: _rebuild_all(one, enricher)) * 10, 3)
    result["digest"] = _digest(parts, enricher)
    result["parts"], result["records"] = len(parts), records
    return result


def _steps(parts: list[Part], enricher: Enricher) -> dict[str, float]:
    spent: dict[str, float] = defaultdict(float)
    for raws, ingested in parts:
        marks = [time.process_time()]
        records = [decode_record(raw) for raw in raws.to_pylist()]
        marks.append(time.process_time())
        result = normalize(records, ingested=ingested[0].as_py(), enricher=enricher, parsed=True)
        marks.append(time.process_time())
        batch = with_arrivals(result.batch, ingested)
        marks.append(time.process_time())
        made = list(to_documents(batch, result.read))
        marks.append(time.process_time())
        del made
        marks.append(time.process_time())
        names = ("decode", "normalize", "with_arrivals", "to_documents", "free")
        for name, start, end in zip(names, marks, marks[1:], strict=False):
            spent[name] += end - start
    return spent


def _rebuild_all(parts: list[Part], enricher: Enricher) -> None:
    for raws, ingested in parts:
        documents._rebuilt(raws, ingested, enricher)


def _digest(parts: list[Part], enricher: Enricher) -> str:
    digest = hashlib.sha256()
    for raws, ingested in parts:
        made = documents._rebuilt(raws, ingested, enricher)
        for row in sorted(made):
            digest.update(orjson.dumps([row, made[row]], option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()[:16]


def actions(parts: list[Part], rounds: int, enricher: Enricher) -> list[dict[str, Any]]:
    """The cost per record of each event name's records rebuilt alone, in parts of 500."""
    kinds: dict[str, list[tuple[bytes, Any]]] = defaultdict(list)
    for raws, ingested in parts:
        for raw, at in zip(raws.to_pylist(), ingested.to_pylist(), strict=True):
            kinds[str(orjson.loads(raw).get("eventName"))].append((raw, at))
    ingested_type = parts[0][1].type
    found = []
    for action, rows in kinds.items():
        raws = pa.array([raw for raw, _ in rows], pa.binary())
        times = pa.array([at for _, at in rows], ingested_type)
        cut = [(raws.slice(s, 500), times.slice(s, 500)) for s in range(0, len(rows), 500)]
        spent = _best(rounds, lambda cut=cut: _rebuild_all(cut, enricher))  # type: ignore[misc]
        found.append({
            "action": action, "records": len(rows), "cpu": round(spent, 4),
            "us_per_record": round(spent / len(rows) * 1e6, 1),
            "bytes_per_record": sum(len(raw) for raw, _ in rows) // len(rows),
        })  # fmt: skip
    return sorted(found, key=lambda row: -row["cpu"])


def columnar_way(parts: list[Part], rounds: int, enricher: Enricher) -> dict[str, Any]:
    """The workers' way (skimmer and columnar normalizer) for the fields it makes, `normalize`
    for the others, against `normalize` of every field; alternating rounds."""
    names = [f.name for f in arrow_schema()]
    made_there = frozenset(n for n in names if columnar.supported([n]))
    lacking = frozenset(names) - made_there
    paths = columnar.paths_for(made_there)
    skimmer = compiled_skimmer([p for p in paths if p not in RAW_PATHS],
                               [p for p in paths if p in RAW_PATHS])  # fmt: skip
    if skimmer is None:
        return {"columnar": "the compiled skimmer was not built"}
    texts = [(raws.to_pylist(), ingested[0].as_py()) for raws, ingested in parts]
    left = [0]

    def python(fields: frozenset[str] | None) -> None:
        for records, first in texts:
            decoded = [decode_record(raw) for raw in records]
            normalize(decoded, ingested=first, enricher=enricher, fields=fields, parsed=True)

    def skimmed_columnar() -> None:
        left[0] = 0
        for records, first in texts:
            skimmed = skimmer(b'{"Records":[' + b",".join(records) + b"]}")
            if skimmed is None:
                left[0] += len(records)
                continue
            columns = {p: skimmed.columns[p] for p in paths}
            got = columnar.normalized_columns(columns, made_there, first, enricher)
            left[0] += len(got.left)

    ways: dict[str, Callable[[], None]] = {
        "normalize every field": lambda: python(None),
        "normalize the fields columnar lacks": lambda: python(lacking),
        "skimmer and columnar, the fields it makes": skimmed_columnar,
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, way in ways.items():
            best[name] = min(best.get(name, 1e9), _best(1, way))
    result: dict[str, Any] = {k: round(v, 4) for k, v in best.items()}
    result["fields columnar lacks"] = len(lacking)
    result["rows columnar leaves"] = left[0]
    return result


def main() -> None:
    command, where = sys.argv[1], Path(sys.argv[2])
    probe_without_pandas()  # as the command does
    if command == "capture":
        capture(where, Path(sys.argv[3]))
        return
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    parts, enricher = _parts(where), Enricher.create()
    with paused():
        if command == "stages":
            print(json.dumps(stages(parts, rounds, enricher)))
        elif command == "actions":
            for row in actions(parts, rounds, enricher):
                print(json.dumps(row))
        else:
            print(json.dumps(columnar_way(parts, rounds, enricher)))


if __name__ == "__main__":
    main()
