"""The bucket layout read from S3: `trailhound scan s3://...` against a moto server on loopback,
directly and behind a proxy that holds each request as long as S3's network does.

    python bench/s3.py CORPUS_DIR [--latency-ms 0 30] [--prefix AWSLogs/123456789012] [--workers 2]

CORPUS_DIR is a bucket-layout corpus (`bench/bucket.py`'s, e.g. bench/.cache/bucket-events...):
its files are uploaded to a fresh moto server (needs the dev extra's `moto[server]` and the
`[s3]` extra), then each latency's scan runs once in a fresh process with a fresh state, and
one Markdown row per latency is printed: wall seconds, CPU of the scan's process tree (user
+ sys; moto's own CPU is not in it), objects and alerts. With no `--prefix` the whole
corpus is scanned and its alerts are checked against the answer key. A folder scan of the
same files is the row to compare with (`run.py`'s bucket layout). moto is a Python server:
its own CPU per request shares the machine's cores with the scan, so the figures are an upper
bound of what S3 costs the scan, not S3's speed.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' moto server and uploader, not copies

from run import _config  # noqa: E402

from support.moto import aws_environment, moto_server, upload  # noqa: E402
from trailhound.simulate import read_answer_key  # noqa: E402

BUCKET = "bench-trail"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 30.0])
    parser.add_argument("--prefix", default="AWSLogs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    files = {str(p.relative_to(args.corpus)): p
             for p in (args.corpus / "AWSLogs").rglob("*") if p.is_file()}  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch, moto_server() as endpoint:
        os.environ.update(aws_environment(endpoint, Path(scratch)))
        import boto3  # the [s3] extra

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        upload(BUCKET, files.items())
        objects = sum(1 for key in files if key.startswith(args.prefix))
        print("| latency per request | seconds | CPU s (scan's tree) | objects | alerts |")
        print("|---:|---:|---:|---:|---:|")
        for latency in args.latency_ms:
            with _delayed(endpoint, latency / 1000) as url:
                seconds, cpu, alerts = _scan(url, args.prefix, args.workers, Path(scratch))
            _check(args.corpus, args.prefix, alerts)
            print(f"| {latency:g} ms | {seconds:.2f} | {cpu:.2f} | {objects:,} | {alerts:,} |")


def _scan(endpoint: str, prefix: str, workers: int, scratch: Path) -> tuple[float, float, int]:
    state, out = scratch / "state.duckdb", scratch / "alerts.jsonl"
    for old in scratch.glob("state.duckdb*"):
        old.unlink()
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "trailhound", "scan", f"s3://{BUCKET}/{prefix}",
               "--state", str(state), "--format", "jsonl", "--output", str(out),
               "--workers", str(workers), "--quiet", "--config", str(_config(scratch))]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "AWS_ENDPOINT_URL": endpoint},
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"the scan failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    alerts = sum(1 for _ in out.open()) if out.exists() else 0
    return seconds, cpu, alerts


def _check(corpus: Path, prefix: str, alerts: int) -> None:
    key = corpus / "answer_key.json"
    if prefix.rstrip("/") != "AWSLogs" or not key.exists():
        return
    expected = len(read_answer_key(key))
    if alerts != expected:
        raise SystemExit(f"{alerts} alerts from S3, the answer key has {expected}")


@contextmanager
def _delayed(endpoint: str, delay: float) -> Iterator[str]:
    """`endpoint`, or a proxy in front of it that holds each piece a client sends `delay`
    seconds before passing it on: a request then waits about that long for its answer."""
    if delay <= 0:
        yield endpoint
        return
    target = int(endpoint.rsplit(":", 1)[1])

    class Hop(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with socket.create_connection(("127.0.0.1", target)) as upstream:
                back = threading.Thread(target=_pump, args=(upstream, self.request, 0.0))
                back.start()
                _pump(self.request, upstream, delay)
                back.join()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True

    with Server(("127.0.0.1", 0), Hop) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
    try:
        while data := source.recv(65536):
            if delay:
                time.sleep(delay)
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


if __name__ == "__main__":
    main()
