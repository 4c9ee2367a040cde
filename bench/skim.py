"""The compiled skimmer's CPU per event against msgspec's decoding of the same files.

    python bench/skim.py DIR                # DIR: a corpus folder (holds AWSLogs/)
    python bench/skim.py DIR --files 1500 --rounds 3

Inflates files spread over the corpus into memory, then times, with the process's CPU clock
and in alternating rounds, `compiled_skimmer(PATHS)(text)` (the whole answer: Arrow arrays
included) and `decode_records_file(text)` over every text, and prints microseconds per event
of each (the best round). The paths are about the twenty members the rules and the documents
read.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path

from trailhound.cloudtrail.record import decode_records_file
from trailhound.cloudtrail.skim import compiled_skimmer

PATHS = (
    "eventTime", "eventName", "eventSource", "eventID", "eventType", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "recipientAccountId",
    "userIdentity.type", "userIdentity.arn", "userIdentity.principalId", "userIdentity.userName",
    "userIdentity.accessKeyId", "userIdentity.sessionContext.sessionIssuer.userName",
    "requestParameters.tableName", "requestParameters.tableArn", "requestParameters.backupArn",
)  # fmt: skip


def _texts(root: Path, files: int) -> list[bytes]:
    paths = sorted((root / "AWSLogs").rglob("*.json.gz"))
    paths = paths[:: max(1, len(paths) // files)][:files]  # spread over the days and hours
    return [gzip.decompress(p.read_bytes()) for p in paths]


def _cpu(step: Callable[[bytes], object], texts: list[bytes]) -> float:
    start = time.process_time()
    for text in texts:
        step(text)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    skim = compiled_skimmer(PATHS)
    if skim is None:
        raise SystemExit("the extension trailhound.cloudtrail._skim was not built")
    texts = _texts(args.corpus, args.files)
    events = sum(len(decode_records_file(t)) for t in texts)
    if any(skim(t) is None for t in texts):
        raise SystemExit("the skimmer refused a file of the corpus")
    size = sum(map(len, texts))
    best = {"skim": float("inf"), "msgspec": float("inf")}
    for _ in range(args.rounds):
        best["skim"] = min(best["skim"], _cpu(skim, texts))
        best["msgspec"] = min(best["msgspec"], _cpu(decode_records_file, texts))
    print(f"{len(texts)} files, {events} events, {size / events:.0f} bytes per event")
    for name, seconds in best.items():
        print(f"{name}: {seconds / events * 1e6:.3f} us/event ({size / seconds / 1e9:.2f} GB/s)")


if __name__ == "__main__":
    main()
