"""The compiled skimmer's CPU per event against msgspec's decoding of the same files.

    python bench/skim.py DIR                # DIR: a corpus folder (holds AWSLogs/)
    python bench/skim.py DIR --files 1500 --rounds 3
    python bench/skim.py DIR --files 3000 --many   # also: many texts a call
    python bench/skim.py DIR --raw                     # with the raw paths too

Inflates files spread over the corpus into memory, then times, with the process's CPU clock
and in alternating rounds, `compiled_skimmer(PATHS)(text)` (the whole answer: Arrow arrays
included) and `decode_records_file(text)` over every text, and prints microseconds per event
of each (the best round). The paths are about the twenty members the rules and the documents
read; `--raw` adds RAW, the raw paths a columnar normalization reads. `--many` also times
the skimmer's `many` over the texts grouped as the reader groups them (`skim_read.GROUP_FILES`
files in a row, `GROUP_BYTES` at most). Each file's answer is taken as a stage takes it: its
spans and the two columns selection reads.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path

from trailhound.cloudtrail.record import decode_records_file
from trailhound.cloudtrail.skim import Skimmed, compiled_skimmer, skimmed_all
from trailhound.cloudtrail.skim_read import GROUP_BYTES, GROUP_FILES

PATHS = (
    "eventTime", "eventName", "eventSource", "eventID", "eventType", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "recipientAccountId",
    "userIdentity.type", "userIdentity.arn", "userIdentity.principalId", "userIdentity.userName",
    "userIdentity.accessKeyId", "userIdentity.sessionContext.sessionIssuer.userName",
    "requestParameters.tableName", "requestParameters.tableArn", "requestParameters.backupArn",
)  # fmt: skip
RAW = (
    "resources", "responseElements", "requestParameters.requestItems",
    "requestParameters.transactItems", "requestParameters.key", "requestParameters.item",
    "requestParameters.keyConditionExpression", "requestParameters.globalTableName",
    "requestParameters.sourceTableArn", "requestParameters.targetTableName",
    "responseElements.tableDescription", "responseElements.globalTableDescription",
    "responseElements.backupDetails", "requestParameters.exportFromTime",
    "requestParameters.s3Bucket", "serviceEventDetails",
)  # fmt: skip
"""About as many raw paths as a columnar normalization asks for, mostly absent."""


def _texts(root: Path, files: int) -> list[bytes]:
    paths = sorted((root / "AWSLogs").rglob("*.json.gz"))
    paths = paths[:: max(1, len(paths) // files)][:files]  # spread over the days and hours
    return [gzip.decompress(p.read_bytes()) for p in paths]


def _cpu(step: Callable[[list[bytes]], object], groups: list[list[bytes]]) -> float:
    start = time.process_time()
    for group in groups:
        step(group)
    return time.process_time() - start


def _groups(texts: list[bytes]) -> list[list[bytes]]:
    """The texts in the reader's groups (`skim_read.skimmed_blobs`)."""
    groups: list[list[bytes]] = [[]]
    size = 0
    for text in texts:
        if len(groups[-1]) >= GROUP_FILES or size + len(text) > GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += len(text)
    return [g for g in groups if g]


def _selected(skimmed: Skimmed | None) -> object:
    """What a stage takes of every file: its spans and the columns selection reads."""
    assert skimmed is not None
    columns = skimmed.columns
    return skimmed.starts, skimmed.ends, columns["eventSource"], columns["eventName"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--many", action="store_true", help="also many texts a call")
    parser.add_argument("--raw", action="store_true", help="with the raw paths RAW too")
    args = parser.parse_args()
    skim = compiled_skimmer(PATHS, RAW if args.raw else ())
    if skim is None:
        raise SystemExit("the extension trailhound.cloudtrail._skim was not built")
    texts = _texts(args.corpus, args.files)
    events = sum(len(decode_records_file(t)) for t in texts)
    if any(skim(t) is None for t in texts):
        raise SystemExit("the skimmer refused a file of the corpus")
    size = sum(map(len, texts))
    steps: dict[str, Callable[[list[bytes]], object]] = {
        "skim": lambda group: [_selected(skim(t)) for t in group],
        "msgspec": lambda group: [decode_records_file(t) for t in group],
    }
    if args.many:
        steps["skim, many a call"] = lambda group: [_selected(s) for s in skimmed_all(skim, group)]
    groups = _groups(texts)
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(args.rounds):
        for name, step in steps.items():
            best[name] = min(best[name], _cpu(step, groups))
    print(f"{len(texts)} files, {events} events, {size / events:.0f} bytes per event")
    for name, seconds in best.items():
        print(f"{name}: {seconds / events * 1e6:.3f} us/event ({size / seconds / 1e9:.2f} GB/s)")


if __name__ == "__main__":
    main()
