"""CloudTrail's free-form members (requestParameters, responseElements, additionalEventData,
serviceEventDetails) as Elastic's ingest pipeline leaves them: cleaned, and rendered as Java's
`Map.toString()` text (what `aws.cloudtrail.request_parameters` holds) and as JSON text for the
flattened columns.

Attackers choose much of what these members hold, so parsing them is bounded: values nested
deeper than `MAX_DEPTH` are cut there, and numbers JSON's usual readers refuse (`1e999`, a
hundred digits) are read exactly by Python's own reader; each such change is told as a `note`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

import msgspec
import orjson

# Elastic's pipeline drops these values (and then empty objects and lists) before mapping.
DROPPED_TEXT: Final = frozenset({"", "-", "none"})
# Elastic keeps the flattened copy of a free-form member only below the keyword length limit.
FLATTENED_LIMIT: Final = 32766
NULL_RAW: Final = msgspec.Raw(b"null")


class Payload(msgspec.Struct, frozen=True, gc=False):
    """A free-form member after Elastic's cleaning: its value, its Java `Map.toString()` text,
    its JSON text for the flattened column, and the user names Elastic adds to related.user
    from it (request: userName, newUserName; response: user.userId)."""

    value: Any = None
    text: str | None = None
    flattened: str | None = None
    users: tuple[str, ...] = ()
    note: str | None = None  # what reading it had to change, if anything
    # `value` lost what Elastic drops (or was cut): not the member as `parsed_value` reads it
    cleaned: bool = False


ABSENT_PAYLOAD: Final = Payload()


def payload_of(raw: msgspec.Raw) -> Payload:
    if not raw or raw == NULL_RAW:
        return ABSENT_PAYLOAD
    return payload(bytes(raw))


def payload(raw: bytes) -> Payload:
    # Short members repeat (a trail's tlsDetails, management calls' parameters) and are worth
    # remembering; long ones (a batch write's items) almost never do, and would fill memory.
    return _small_payload(raw) if len(raw) <= _CACHED_PAYLOAD else _parsed_payload(raw)


_CACHED_PAYLOAD: Final = 1024


@lru_cache(maxsize=2048)
def _small_payload(raw: bytes) -> Payload:
    return _parsed_payload(raw)


MAX_DEPTH: Final = 64
"""Levels of nesting read in a free-form member; deeper values are cut. AWS's own shapes stay
far below it (DynamoDB items nest at most 32 levels), and every step after this one (Java's
text, JSON documents, DuckDB) may then recurse freely."""
CUT: Final = "<cut: nested too deeply>"
_TOO_DEEP: Final = f"nested more than {MAX_DEPTH} levels deep, cut there"


def _parsed_payload(raw: bytes) -> Payload:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _unusual_payload(raw)
    # the text is made first, as most members need neither a cut nor cleaning: making it
    # finds a member too deep on its way, which spares them a depth check of their own
    try:
        text = _java_from_json(raw) if _READ_AS_TEXT < len(raw) <= _READ_AS_TEXT_UP_TO else None
        return rendered(parsed, text if text is not None else _java_ordered(parsed, 0), raw)
    except _TooDeep:
        return _noted(_cut(parsed, MAX_DEPTH), _TOO_DEEP)
    except _NeedsCleaning as stopped:
        exact = isinstance(stopped, _NeedsExactNumbers)
    # the text stopped early, maybe before a level too deep: look for one
    if _may_nest_deeper(raw) and _deeper_than(parsed, MAX_DEPTH):
        return _noted(_cut(parsed, MAX_DEPTH), _TOO_DEEP)
    if exact:  # orjson reads integers beyond 64 bits as floats; Java keeps every digit.
        parsed = json.loads(raw)
    value = _cleaned(parsed)
    if value is _DROP:
        return _CLEANED_AWAY
    return msgspec.structs.replace(rendered(value, java_plain(value)), cleaned=True)


_CLEANED_AWAY: Final = Payload(cleaned=True)

# below this, walking the value costs no more than `_java_from_json`'s steps; above the
# second, the shapes it remembers (`_java_template`) could hold too much memory
_READ_AS_TEXT: Final = 256
_READ_AS_TEXT_UP_TO: Final = 16_384


def _java_from_json(raw: bytes) -> str | None:
    """`_java_ordered` of the value `raw` holds, put together from a text made once per shape
    (`_java_template`) and the member's text values; None where that may not be the same.
    A batch write's request is hundreds of small objects of a few shapes: walking them cost
    more than all else its document needs.

    Java prints a text value as it is, wherever it lies, unless Elastic drops it; so two
    values that differ only in such texts print alike around them. Without escapes a
    value's JSON is its text, and every quote opens or closes a string."""
    if b"\\" in raw:
        return None
    pieces = _KEYED_TEXT.split(raw.decode())
    values = pieces[1::2]
    if not _DROPPED_VALUES.isdisjoint(values):
        return None
    template = _java_template(_PLACE.join(pieces[0::2]))
    if template is None:
        return None
    texts, order = template
    filled = [""] * (2 * len(texts) - 1)
    filled[0::2] = texts
    filled[1::2] = [values[i] for i in order]
    return "".join(filled)


# a member's text value; a group, so that splitting by it keeps the values
_KEYED_TEXT: Final = re.compile(r'":"([^"]*)"')
# where a value was: a control character outside a string, which no JSON text holds; the
# same character marks the values in the template's text
_PLACE: Final = '":\x00'
_MARK: Final = "\x00"
# what an opening quote may follow
_NOT_AFTER_KEY: Final = tuple(before + _PLACE for before in "{[,: \t\n\r")
_DROPPED_VALUES: Final = frozenset(DROPPED_TEXT)


@lru_cache(maxsize=256)
def _java_template(shape: str) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """For a member's JSON with its text values taken out (`_PLACE` at each), Java's text
    around them, and the order in which the values appear in it (by their place in the
    JSON; a key written twice shows only its last value); None where the text would not be
    the same for every value (nothing to clean, nothing too deep).

    Each `_KEYED_TEXT` a quote, a colon and a quote took is a key's end, a colon and a value's
    start, unless the first quote opened a string that is a colon alone: then the quote
    follows an opening bracket, a comma, a colon or a space, or the start of the text. Such
    shapes (and those of keys that end so) are left to the walk."""
    if any(place in shape for place in _NOT_AFTER_KEY) or shape.startswith(_PLACE):
        return None
    parts = shape.split(_PLACE)
    marked = parts[0] + "".join(f'":"\\u0000{i}\\u0000"' + part for i, part in enumerate(parts[1:]))
    try:
        text = _java_ordered(orjson.loads(marked), 0)
    except (_NeedsCleaning, _TooDeep, orjson.JSONDecodeError):
        return None
    pieces = text.split(_MARK)
    return tuple(pieces[0::2]), tuple(int(i) for i in pieces[1::2])


def read_back(parsed: Payload) -> Any:
    """What `parsed_value` reads from the flattened text of a member `payload` read, when the
    payload already holds it and holds it alone; None otherwise. A payload read as it stands
    (neither cleaned nor noted) has the member's own JSON as its flattened text and that JSON
    as read as its value; one that long was not cached (`_small_payload`), so no other row
    shares the value. Only for payloads made by `payload` or `payload_of`."""
    if parsed.flattened is None or parsed.cleaned or parsed.note is not None:
        return None
    return parsed.value if len(parsed.flattened) > _CACHED_PAYLOAD else None


def parsed_value(raw: bytes) -> Any:
    """The member's value alone, without its texts, bounded as `payload`'s is, and not cleaned
    (as `payload`'s value is) whichever reader takes it; None for text no reader takes."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            parsed = json.loads(raw)  # numbers beyond a double's range, or not UTF-8
        except (ValueError, RecursionError):
            return None
    if _may_nest_deeper(raw) and _deeper_than(parsed, MAX_DEPTH):
        return _cut(parsed, MAX_DEPTH)
    return parsed


def outline(raw: bytes, decoders: Mapping[str, msgspec.json.Decoder[Any]]) -> dict[str, Any] | None:
    """An object member read only as deep as a reader looks: the members named in `decoders`
    decoded by them (whose types leave what is not read as `msgspec.Raw`: checked, not built),
    the others left raw. None when it is not an object of that shape, or not sure to read as
    `parsed_value` reads it.

    What it shows is what `parsed_value` shows. msgspec checks the syntax of what it skips
    (tested) and takes only valid JSON; of that, orjson refuses numbers beyond a double's range
    and bytes that are not UTF-8, and `parsed_value` then reads the text with Python's reader,
    which takes any valid JSON. ASCII alone is outlined, so both read the same text; fewer
    than `_OUTLINE_BRACKETS` brackets keep the nesting below every reader's limit; and where a
    name repeats, all keep the last value at the first one's place. `parsed_value`'s cut at
    `MAX_DEPTH` changes nothing a few levels down, where a decoder here reads."""
    if not raw.isascii() or raw.count(b"{") + raw.count(b"[") >= _OUTLINE_BRACKETS:
        return None
    try:
        members = _RAW_MEMBERS.decode(raw)
        return {
            name: _decoded(decoders[name], value) if name in decoders else value
            for name, value in members.items()
        }
    except (msgspec.MsgspecError, RecursionError):
        return None


_RAW_MEMBERS: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
# nesting is at most this deep: far below orjson's limit (1,024) and Python's recursion limit
_OUTLINE_BRACKETS: Final = 500


def _decoded(decoder: msgspec.json.Decoder[Any], raw: msgspec.Raw) -> Any:
    return None if raw == NULL_RAW else decoder.decode(raw)  # a union with None costs more


def _unusual_payload(raw: bytes) -> Payload:
    """A member orjson refuses: numbers beyond a double's range (`1e999`, which Java reads as
    Infinity), or nesting deeper than any reader here follows."""
    try:
        parsed = json.loads(raw)
    except RecursionError:
        return Payload(note="nested too deeply to read, left out")
    except ValueError:
        return Payload(note="not valid JSON, left out")
    if _deeper_than(parsed, MAX_DEPTH):
        return _noted(_cut(parsed, MAX_DEPTH), _TOO_DEEP)
    huge = [n.decode() for n in _NUMBER.findall(raw) if math.isinf(float(n))]
    note = f"{_listed(huge)} beyond a double's range, read as Infinity" if huge else None
    return _noted(parsed, note)


_NUMBER: Final = re.compile(rb"-?\d+(?:\.\d+)?[eE][+-]?\d+")


def _listed(numbers: list[str]) -> str:
    shown = ", ".join(n[:24] for n in numbers[:3])
    more = f" and {len(numbers) - 3} more" if len(numbers) > 3 else ""
    return f"number{'s' if len(numbers) > 1 else ''} {shown}{more}"


def _noted(parsed: Any, note: str | None) -> Payload:
    value = _cleaned(parsed)
    if value is _DROP:
        return Payload(note=note, cleaned=True)
    return msgspec.structs.replace(rendered(value, java_plain(value)), note=note, cleaned=True)


def _may_nest_deeper(raw: bytes) -> bool:
    """Cheap and sure (`raw` being valid JSON): False when no value lies more than
    `MAX_DEPTH` containers down. A member with few brackets cannot nest deeply; otherwise its
    brackets outside strings are peeled one level per pass, in C, instead of walking every
    parsed value in Python (a BatchGetItem of 100 keys has hundreds of brackets, 4 levels)."""
    if len(raw) <= 2 * MAX_DEPTH or raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return False
    # Escapes go first (pairs of backslashes, then escaped quotes, as a JSON reader takes them
    # from the left), so that every quote left opens or closes a string; of what remains only
    # quotes and brackets are kept, and every other piece between quotes was a string.
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    brackets = b"".join(text.split(b'"')[::2])
    # each pass removes the containers that are empty by then: after k passes nothing is
    # left when the deepest container is k levels down, so its values are at most k deep
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'"{}[]')
_INNERMOST: Final = re.compile(rb"\{\}|\[\]")


def _deeper_than(value: Any, limit: int) -> bool:
    # a loop, not recursion: the value may nest deeper than Python's recursion limit
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if type(item) is dict:
            stack.extend((child, depth + 1) for child in item.values())
        elif type(item) is list:
            stack.extend((child, depth + 1) for child in item)
    return False


def _cut(value: Any, levels: int) -> Any:
    """`value` with whatever lies more than `levels` containers down replaced by `CUT`."""
    if type(value) is dict:
        return {k: _cut(v, levels - 1) for k, v in value.items()} if levels else CUT
    if type(value) is list:
        return [_cut(v, levels - 1) for v in value] if levels else CUT
    return value


def rendered(value: Any, text: str, raw: bytes | None = None) -> Payload:
    if type(value) is not dict:
        return Payload(value, text)
    flattened = None
    if len(text) < FLATTENED_LIMIT:
        flattened = raw.decode() if raw is not None else _json_text(value)
    users: tuple[str, ...] = ()
    if "userName" in value or "newUserName" in value or "user" in value:
        found = (
            value.get("userName"),
            value.get("newUserName"),
            member_of(value.get("user"), "userId"),
        )
        users = tuple(name for name in found if type(name) is str)
    return Payload(value, text, flattened, users)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _NeedsCleaning(Exception):
    """The value holds something Elastic's cleaning removes; render the cleaned value instead."""


class _NeedsExactNumbers(_NeedsCleaning):
    """The value holds an integer too large for orjson; parse it again, exactly."""


class _TooDeep(Exception):
    """The value nests more than `MAX_DEPTH` levels deep; cut it there."""


class _Dropped:
    pass


_DROP: Final = _Dropped()


def _cleaned(value: Any) -> Any:
    """Elastic's first step: drop nulls, empty or placeholder strings, then empty objects and
    lists, recursively. Objects come back in Java HashMap order, as Elastic iterates them."""
    kind = type(value)
    if kind is dict:
        kept = {}
        for key, item in value.items():
            item = _cleaned(item)
            if item is not _DROP:
                kept[key] = item
        if len(kept) < 2:
            return kept or _DROP
        return {key: kept[key] for key in java_order(tuple(kept), len(value))}
    if kind is list:
        items = [item for item in map(_cleaned, value) if item is not _DROP]
        return items or _DROP
    if value is None or (kind is str and value in DROPPED_TEXT):
        return _DROP
    return value


@lru_cache(maxsize=16_384)
def java_order(keys: tuple[str, ...], inserted: int) -> tuple[str, ...]:
    """The iteration order of a java.util.HashMap that had `inserted` entries put in `keys`
    order (some since removed): by bucket, then by insertion within a bucket."""
    capacity = 16
    while inserted > capacity * 3 // 4:
        capacity *= 2
    mask = capacity - 1
    ranked = sorted(range(len(keys)), key=lambda i: (_java_spread_hash(keys[i]) & mask, i))
    return tuple(keys[i] for i in ranked)


@lru_cache(maxsize=65_536)
def _java_spread_hash(key: str) -> int:
    """java.lang.String.hashCode() over UTF-16 code units, spread as HashMap.hash() does."""
    h = 0
    units = key.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h = (31 * h + units[i] + (units[i + 1] << 8)) & 0xFFFFFFFF
    return h ^ (h >> 16)


def _java_ordered(value: Any, depth: int) -> str:
    """Java's `toString()` of a parsed JSON value `depth` containers down, objects in Java
    HashMap order; raises `_NeedsCleaning` on anything Elastic's cleaning would remove, and
    `_TooDeep` on a value more than `MAX_DEPTH` down. Hot: one call per payload."""
    kind = type(value)
    if kind is dict:
        if len(value) == 1:
            return _java_chain(value, depth)
        if not value:
            raise _NeedsCleaning
        if depth >= MAX_DEPTH:  # its members lie deeper
            raise _TooDeep
        parts = []
        for key in java_order(tuple(value), len(value)):
            item = value[key]
            if type(item) is str:
                if item in DROPPED_TEXT:
                    raise _NeedsCleaning
                parts.append(key + "=" + item)
            else:
                parts.append(key + "=" + _java_ordered(item, depth + 1))
        return "{" + ", ".join(parts) + "}"
    if kind is str:
        if value in DROPPED_TEXT:
            raise _NeedsCleaning
        return value  # type: ignore[no-any-return]
    if kind is list:
        if not value:
            raise _NeedsCleaning
        if depth >= MAX_DEPTH:
            raise _TooDeep
        return "[" + ", ".join([_java_ordered(item, depth + 1) for item in value]) + "]"
    if value is None:
        raise _NeedsCleaning
    if kind is float and abs(value) >= _BIGGEST_LONG and value.is_integer():
        raise _NeedsExactNumbers
    return java_scalar(value)


def _java_chain(value: dict[str, Any], depth: int) -> str:
    """`_java_ordered` of an object of one member, and of the objects of one member nested in
    it, in one call: DynamoDB writes its items so ({"deleteRequest": {"key": {"id": {"S": _}}}}),
    and a call per level cost a batch write's request text more than all else."""
    opened = []
    item: Any = value
    while type(item) is dict and len(item) == 1:
        if depth >= MAX_DEPTH:
            raise _TooDeep
        ((key, item),) = item.items()
        opened.append(key)
        depth += 1
    inner = item if type(item) is str and item not in DROPPED_TEXT else _java_ordered(item, depth)
    return "{" + "={".join(opened) + "=" + inner + "}" * len(opened)


_BIGGEST_LONG: Final = 2.0**63


def java_plain(value: Any) -> str:
    """Java's `toString()` of a cleaned value, whose objects are already in HashMap order."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is dict:
        return "{" + ", ".join([f"{k}={java_plain(v)}" for k, v in value.items()]) + "}"
    if kind is list:
        return "[" + ", ".join([java_plain(v) for v in value]) + "]"
    return java_scalar(value)


def java_scalar(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return _java_double(value)
    return str(value)


def _java_double(value: float) -> str:
    """java.lang.Double.toString: plain from 1e-3 to 1e7, else computerized scientific notation,
    with the shortest digits that round-trip (as Python's repr)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    power = int(exponent) + len(digits) - 1
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{power}"


def member_of(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None
