"""What the compiled skimmer reads, over every path the columnar step knows, from each file of a
small simulated corpus: real blocks to hold the compiled column makers to Arrow on."""

from __future__ import annotations

import gzip
from pathlib import Path

from trailhound.cloudtrail.columnar import PATHS, RAW_PATHS
from trailhound.cloudtrail.skim import Skimmed, compiled_skimmer
from trailhound.simulate import simulate


def simulated_skims(out: Path, seed: int) -> list[Skimmed]:
    """Each simulated file's answer (one day, 4,000 events, written to `out`), in file order;
    files the skimmer refuses are left out."""
    simulate(out, days=1, seed=seed, events=4_000)
    skimmer = compiled_skimmer(PATHS, RAW_PATHS)
    assert skimmer is not None
    read = (skimmer(gzip.decompress(p.read_bytes())) for p in sorted(out.rglob("*.json.gz")))
    return [answer for answer in read if answer is not None]
