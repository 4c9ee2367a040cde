"""A local stand-in for Slack, PagerDuty and a webhook endpoint, for output tests.

Run as a script: `python receiver.py --port 0 --log FILE [--secret S]` serves on 127.0.0.1 and
prints `listening PORT` as its first line. Standard library only.

- `POST /slack/...` checks a Slack incoming-webhook payload against Slack's published Block
  Kit format and answers as Slack does: 200 `ok`, or 400 `invalid_payload`, `no_text`,
  `invalid_blocks`.
- `POST /pagerduty/v2/enqueue` checks an Events API v2 event and answers as PagerDuty does:
  202 with `{"status": "success", ...}`, or 400 with `{"status": "invalid event", ...}`.
- `POST /hook/...` takes any JSON; started with `--secret`, it also checks the
  `X-Trailhound-Signature` HMAC and answers 401 when it does not match.
- `POST /_control` sets failures for the requests that follow: `{"fail": N, "status": 500,
  "retry_after": secs}` answers the next N requests with that status (and a Retry-After
  header when given); `{"hang": secs}` makes the next request wait before answering;
  `{"reset": true}` clears both.

Each request but `/_control` is appended to the log as one JSON line, flushed: method, path,
headers, body (text), status, verdict and the problems found.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

# --- Slack: https://api.slack.com/reference/block-kit (the blocks this project sends) ---

SLACK_MESSAGE_KEYS = frozenset({
    "text", "blocks", "attachments", "thread_ts", "mrkdwn", "unfurl_links", "unfurl_media",
    "username", "icon_emoji", "icon_url", "channel", "link_names", "parse", "reply_broadcast",
})  # fmt: skip
SLACK_BLOCKS = 50
SLACK_MESSAGE_TEXT = 40_000
HEADER_TEXT = 150
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
CONTEXT_ELEMENTS = 10
TEXT_OBJECT = 3000
BLOCK_ID = 255


def check_slack(payload: Any) -> tuple[str, list[str]]:
    """Slack's error code for a webhook payload ("" when valid) and the problems found."""
    if not isinstance(payload, dict):
        return "invalid_payload", ["the payload is not a JSON object"]
    problems = [f"unknown message field {k!r}" for k in payload if k not in SLACK_MESSAGE_KEYS]
    if problems:
        return "invalid_payload", problems
    text, blocks = payload.get("text"), payload.get("blocks")
    if text is None and blocks is None:
        return "no_text", ["neither text nor blocks"]
    if text is not None and (not isinstance(text, str) or len(text) > SLACK_MESSAGE_TEXT):
        return "invalid_payload", ["text must be a string of at most 40000 characters"]
    if blocks is None:
        return "", []
    problems = _blocks(blocks)
    return ("invalid_blocks" if problems else ""), problems


def _blocks(blocks: Any) -> list[str]:
    if not isinstance(blocks, list) or not blocks:
        return ["blocks must be a non-empty list"]
    problems = [] if len(blocks) <= SLACK_BLOCKS else [f"more than {SLACK_BLOCKS} blocks"]
    for i, block in enumerate(blocks):
        problems += [f"blocks[{i}]: {p}" for p in _block(block)]
    return problems


def _block(block: Any) -> list[str]:
    if not isinstance(block, dict):
        return ["not an object"]
    kind = block.get("type")
    check = _BLOCK_CHECKS.get(kind) if isinstance(kind, str) else None
    if check is None:
        return [f"unknown block type {kind!r}"]
    block_id = block.get("block_id")
    problems = [] if block_id is None or _short_string(block_id, BLOCK_ID) else ["bad block_id"]
    return problems + check(block)


def _header(block: dict[str, Any]) -> list[str]:
    problems = _only_keys(block, {"type", "block_id", "text"})
    text = block.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        return [*problems, "header text must be a plain_text object"]
    return problems + _text_object(text, HEADER_TEXT, "text")


def _section(block: dict[str, Any]) -> list[str]:
    problems = _only_keys(block, {"type", "block_id", "text", "fields", "accessory", "expand"})
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        return [*problems, "a section needs text or fields"]
    if text is not None:
        problems += _text_object(text, SECTION_TEXT, "text")
    if fields is not None:
        if not isinstance(fields, list) or not 1 <= len(fields) <= FIELDS:
            return [*problems, f"fields must be a list of 1 to {FIELDS} text objects"]
        for i, field in enumerate(fields):
            problems += _text_object(field, FIELD_TEXT, f"fields[{i}]")
    return problems


def _context(block: dict[str, Any]) -> list[str]:
    problems = _only_keys(block, {"type", "block_id", "elements"})
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS:
        return [*problems, f"elements must be a list of 1 to {CONTEXT_ELEMENTS} items"]
    for i, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "image":
            ok = isinstance(element.get("image_url"), str) and isinstance(
                element.get("alt_text"), str)  # fmt: skip
            problems += [] if ok else [f"elements[{i}]: an image needs image_url and alt_text"]
        else:
            problems += _text_object(element, TEXT_OBJECT, f"elements[{i}]")
    return problems


def _divider(block: dict[str, Any]) -> list[str]:
    return _only_keys(block, {"type", "block_id"})


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
}


def _text_object(obj: Any, limit: int, where: str) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: not a text object"]
    kind = obj.get("type")
    allowed = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}
    if kind not in allowed:
        return [f"{where}: text object type must be plain_text or mrkdwn"]
    problems = [f"{where}: {p}" for p in _only_keys(obj, allowed[kind])]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [*problems, f"{where}: text must be a non-empty string"]
    if len(text) > limit:
        problems.append(f"{where}: text is {len(text)} characters, more than {limit}")
    return problems


def _only_keys(obj: dict[str, Any], allowed: set[str]) -> list[str]:
    return [f"unknown field {k!r}" for k in obj if k not in allowed]


def _short_string(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


# --- PagerDuty: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ ---

PD_ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
PD_SEVERITIES = frozenset({"critical", "error", "warning", "info"})
PD_ROUTING_KEY = 32
PD_DEDUP_KEY = 255
PD_SUMMARY = 1024


def check_pagerduty(event: Any) -> list[str]:
    """The problems PagerDuty would list for an Events API v2 event; [] when valid."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    problems: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != PD_ROUTING_KEY:
        problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in PD_ACTIONS:
        problems.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and not _short_string(dedup, PD_DEDUP_KEY):
        problems.append("'dedup_key' must be a string of 1 to 255 characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        problems.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        problems += _pd_payload(event.get("payload"))
    for name in ("client", "client_url"):
        if name in event and not isinstance(event[name], str):
            problems.append(f"'{name}' must be a string")
    problems += _pd_links(event.get("links"))
    return problems


def _pd_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    problems: list[str] = []
    if not _short_string(payload.get("summary"), PD_SUMMARY):
        problems.append("'payload.summary' must be a string of 1 to 1024 characters")
    if not _short_string(payload.get("source"), 10_000):
        problems.append("'payload.source' is missing or blank")
    if payload.get("severity") not in PD_SEVERITIES:
        problems.append("'payload.severity' is invalid (critical, error, warning or info)")
    stamp = payload.get("timestamp")
    if stamp is not None and not _iso_8601(stamp):
        problems.append("'payload.timestamp' is not an ISO 8601 time")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            problems.append(f"'payload.{name}' must be a string")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        problems.append("'payload.custom_details' must be an object")
    return problems


def _pd_links(links: Any) -> list[str]:
    if links is None:
        return []
    ok = isinstance(links, list) and all(
        isinstance(link, dict) and isinstance(link.get("href"), str) for link in links)  # fmt: skip
    return [] if ok else ["'links' must be a list of objects with an href"]


def _iso_8601(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# --- the server ---


class Faults:
    """The failures set through /_control, taken by the requests that follow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fail = 0
        self.status = 500
        self.retry_after: str | None = None
        self.hang = 0.0

    def set(self, settings: dict[str, Any]) -> None:
        with self._lock:
            if settings.get("reset"):
                self.fail, self.status, self.retry_after, self.hang = 0, 500, None, 0.0
            if "fail" in settings:
                self.fail = int(settings["fail"])
                self.status = int(settings.get("status", 500))
                given = settings.get("retry_after")
                self.retry_after = None if given is None else str(given)
            if "hang" in settings:
                self.hang = float(settings["hang"])

    def take(self) -> tuple[float, int | None, str | None]:
        """For one request: how long to hang, and the status (and Retry-After) to fail with."""
        with self._lock:
            hang, self.hang = self.hang, 0.0
            if self.fail <= 0:
                return hang, None, None
            self.fail -= 1
            return hang, self.status, self.retry_after


class Receiver(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must not keep the process alive

    def __init__(self, port: int, log: TextIO, secret: str | None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.log = log
        self.log_lock = threading.Lock()
        self.secret = secret
        self.faults = Faults()

    def record(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()


# (status, content type, body, verdict, problems)
Answer = tuple[int, str, bytes, str, list[str]]


class Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the JSON log is the record; stderr stays quiet

    def do_GET(self) -> None:
        self._send((405, "text/plain", b"method not allowed", "", []))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/_control":
            self.server.faults.set(json.loads(body or b"{}"))
            self._send((200, "application/json", b'{"ok": true}', "control", []))
            return
        hang, fail, retry_after = self.server.faults.take()
        if hang:  # logged first, so that a test can act while the request hangs
            self.server.record({"time": time.time(), "method": "POST", "path": self.path,
                                "hanging": hang, "status": None})  # fmt: skip
            time.sleep(hang)
        if fail is not None:
            answer: Answer = (fail, "text/plain", b"injected failure", f"injected {fail}", [])
        else:
            answer = self._judge(body)
        self.server.record({
            "time": time.time(),
            "method": "POST",
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
            "status": answer[0],
            "verdict": answer[3],
            "problems": answer[4],
        })  # fmt: skip
        extra = {"Retry-After": retry_after} if fail is not None and retry_after else {}
        self._send(answer, extra)

    def _judge(self, body: bytes) -> Answer:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = _NOT_JSON
        if self.path.startswith("/slack/"):
            return _slack_answer(payload)
        if self.path == "/pagerduty/v2/enqueue":
            return _pagerduty_answer(payload)
        if self.path.startswith("/hook/"):
            return self._hook_answer(payload, body)
        return 404, "text/plain", b"not found", "not found", []

    def _hook_answer(self, payload: Any, body: bytes) -> Answer:
        if payload is _NOT_JSON:
            return 400, "text/plain", b"not JSON", "invalid", ["the body is not JSON"]
        secret = self.server.secret
        if secret is not None:
            want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            got = self.headers.get("X-Trailhound-Signature", "")
            if not hmac.compare_digest(want, got):
                return 401, "text/plain", b"bad signature", "invalid", ["bad signature"]
        return 200, "application/json", b'{"ok": true}', "ok", []

    def _send(self, answer: Answer, extra: dict[str, str] | None = None) -> None:
        status, content_type, body = answer[0], answer[1], answer[2]
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a hang test): nothing to answer


_NOT_JSON = object()


def _slack_answer(payload: Any) -> Answer:
    if payload is _NOT_JSON:
        return 400, "text/plain", b"invalid_payload", "invalid", ["the body is not JSON"]
    error, problems = check_slack(payload)
    if error:
        return 400, "text/plain", error.encode(), "invalid", problems
    return 200, "text/plain", b"ok", "ok", []


def _pagerduty_answer(payload: Any) -> Answer:
    problems = ["Event object is not JSON"] if payload is _NOT_JSON else check_pagerduty(payload)
    if problems:
        body = {"status": "invalid event", "message": "Event object is invalid",
                "errors": problems}  # fmt: skip
        return 400, "application/json", json.dumps(body).encode(), "invalid", problems
    dedup = payload.get("dedup_key") or hashlib.sha256(json.dumps(payload).encode()).hexdigest()
    body = {"status": "success", "message": "Event processed", "dedup_key": dedup}
    return 202, "application/json", json.dumps(body).encode(), "ok", []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    parser.add_argument("--secret")
    args = parser.parse_args(argv)
    with open(args.log, "a", encoding="utf-8") as log:
        server = Receiver(args.port, log, args.secret)
        print(f"listening {server.server_address[1]}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
