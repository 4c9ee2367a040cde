"""What reading the logs yourself costs: parse every file into Python objects, touch every record.

    python bench/baselines.py stdlib FILELIST   # gzip + json, what a quick script does
    python bench/baselines.py fast FILELIST     # isal + orjson, the fastest full parse here
    python bench/baselines.py inflate FILELIST  # isal alone: the least any reader must do

FILELIST holds one .json.gz path per line. Prints one JSON line: records, compressed and
inflated bytes. Runs in its own process so that the harness measures it alone.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _stdlib(data: bytes) -> Any:
    return json.loads(gzip.decompress(data))


def _fast(data: bytes) -> Any:
    import orjson
    from isal import isal_zlib

    # wbits=31: a gzip stream; isal inflates about twice as fast as zlib
    return orjson.loads(isal_zlib.decompress(data, 31))


def _inflated_size(data: bytes) -> int:
    # the last four bytes of a gzip member are the inflated size modulo 2**32
    return int.from_bytes(data[-4:], "little")


def run(parse: Callable[[bytes], Any], paths: list[str]) -> dict[str, int]:
    records = compressed = inflated = 0
    for path in paths:
        data = Path(path).read_bytes()
        compressed += len(data)
        inflated += _inflated_size(data)
        for record in parse(data)["Records"]:
            # touch every record the way a filter would: look at what was called
            if record.get("eventName") is not None:
                records += 1
    return {"records": records, "compressed_bytes": compressed, "inflated_bytes": inflated}


def inflate_only(paths: list[str]) -> dict[str, int]:
    """Every byte read and inflated, nothing parsed: a floor under any scan of the files, which
    must inflate all of them whatever it then skips."""
    from isal import isal_zlib

    compressed = inflated = 0
    for path in paths:
        data = Path(path).read_bytes()
        compressed += len(data)
        inflated += len(isal_zlib.decompress(data, 31))
    return {"records": 0, "compressed_bytes": compressed, "inflated_bytes": inflated}


def main() -> None:
    mode, listing = sys.argv[1], sys.argv[2]
    paths = [p for p in Path(listing).read_text().split("\n") if p]
    if mode == "inflate":
        print(json.dumps(inflate_only(paths)))
        return
    parse = {"stdlib": _stdlib, "fast": _fast}[mode]
    print(json.dumps(run(parse, paths)))


if __name__ == "__main__":
    main()
