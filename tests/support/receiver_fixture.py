"""The local receiver (tests/support/receiver.py) run as a subprocess on loopback, for the
fixtures in tests/outputs/conftest.py: its URL, its parsed log, its failure switch."""

from __future__ import annotations

import contextlib
import json
import selectors
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECEIVER = Path(__file__).resolve().parent.parent / "support" / "receiver.py"
START_TIMEOUT = 15.0


@dataclass
class Receiver:
    """A running receiver: its base URL, its request log and its failure switch."""

    url: str
    log: Path
    process: subprocess.Popen[str]

    def requests(self) -> list[dict[str, Any]]:
        """Every request received so far, oldest first, each with its parsed `json` body."""
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text("utf-8").splitlines()]
        for entry in entries:
            try:
                entry["json"] = json.loads(entry.get("body", ""))
            except ValueError:
                entry["json"] = None
        return entries

    def control(self, **settings: Any) -> None:
        """Set failures for the next requests: fail=N, status=..., retry_after=..., hang=..."""
        request = urllib.request.Request(
            self.url + "/_control", data=json.dumps(settings).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start(log: Path, secret: str | None) -> Receiver:
    command = [sys.executable, str(RECEIVER), "--port", "0", "--log", str(log)]
    if secret is not None:
        command += ["--secret", secret]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    receiver = Receiver("", log, process)
    try:
        receiver.url = f"http://127.0.0.1:{_port(process)}"
    except BaseException:
        receiver.stop()
        raise
    return receiver


def _port(process: subprocess.Popen[str]) -> int:
    """The port from the receiver's first line, waiting no longer than START_TIMEOUT."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(START_TIMEOUT):
            raise RuntimeError("the receiver did not start in time")
    line = process.stdout.readline()
    word, _, port = line.partition(" ")
    if word != "listening":
        raise RuntimeError(f"the receiver said {line!r}, not 'listening PORT'")
    return int(port)


@contextlib.contextmanager
def running(log: Path, secret: str | None = None) -> Iterator[Receiver]:
    """A receiver for the block, stopped by its pid when the block ends."""
    receiver = start(log, secret)
    try:
        yield receiver
    finally:
        receiver.stop()
