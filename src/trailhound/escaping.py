"""Input shown to people: the one place that makes attacker-chosen text harmless to display.

CloudTrail values (user agents, user and table names, request parameters), file and object
names and the keys of JSON objects are chosen by whoever wrote them. On a terminal, an escape
sequence in them could retitle the window, clear the screen or forge a `trailhound:` line; a
bidi override could make a name read backwards. Every place that prints input calls
`printable`; every JSON text trailhound writes goes through `json_bytes`, which keeps the same
characters out of files a person may `cat` or open in an editor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

import orjson

# C0 and C1 controls, DEL, the line and paragraph separators, and every bidi control
# (embeddings, overrides, isolates, marks), which reorder what follows them on screen.
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# The same characters (but the C0 controls, which every JSON encoder escapes) as UTF-8 bytes.
# UTF-8 never puts a lead byte inside another character, so matching bytes is exact.
_UNSAFE_UTF8: Final = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]"
)


def printable(value: object, limit: int | None = 200) -> str:
    """`value` as text safe for a terminal: unsafe characters shown as `\\xNN` or `\\uNNNN`,
    cut to `limit` characters (with an ellipsis) unless `limit` is None."""
    text = _UNSAFE.sub(_escape, str(value))
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_bytes(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """`value` as compact JSON whose text holds no control or bidi character unescaped.

    Integers beyond 64 bits (which CloudTrail's free-form members may hold) are written
    exactly, which orjson refuses to do. `default` converts what JSON has no type for."""
    try:
        data = orjson.dumps(value, default=default)
    except orjson.JSONEncodeError:
        data = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), default=default or str
        ).encode()
    if (data.isascii() and b"\x7f" not in data) or _UNSAFE_UTF8.search(data) is None:
        return data  # ASCII text (most alerts) is checked at memory speed, not by the regex
    return _UNSAFE_UTF8.sub(_json_escape, data)


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())
