"""Bytes to CloudTrail records: recognize the form a file is in and take the records out of it.

Forms read (plain or gzip; the blob has already been inflated):

- CloudTrail's S3 delivery, `{"Records": [...]}`. Fast path: the whole file is decoded by
  `decode_records_file` in one typed call. Only if that fails is it taken apart record by record,
  to set the bad ones aside and keep the rest.
- NDJSON, one JSON value a line; a JSON array; one (pretty-printed) JSON object.
- EventBridge "... via CloudTrail" events (the record is `detail`), alone, as NDJSON or as the
  bodies of an SQS batch `{"Records": [{"body": "<event>", ...}]}`.
- CloudTrail Lake query results: the `result_N.csv.gz` files a saved query writes to S3 (a header
  row, then one row per event; struct and map columns come as `{key=value, ...}` text) and the
  JSON of GetQueryResults (`{"QueryResultRows": [[{"column": "value"}, ...], ...]}`).
- Panther rows, Logstash `@timestamp`/`@version` rows: any other object goes to
  `record_from_object`, which knows their quirks.

Recognized and skipped with a note, not an error: CloudTrail digest files, Insights events,
CloudTrail Lake sign files (`result_sign.json`), S3 event and CloudTrail SNS notifications (they
name log files; they hold no events), and the answer key `trailhound simulate` writes.

Limits, so that bad input costs an error and not the machine's memory: a record (an NDJSON line,
an SQS body) may be at most `MAX_RECORD_BYTES` (1 MiB; CloudTrail caps an event at 256 KB, the
margin is for re-encoding by collectors); a document read whole (`{"Records": ...}`, a JSON array,
a pretty-printed object) at most `MAX_DOCUMENT_BYTES` (512 MiB inflated; CloudTrail's own
deliveries are a few MB). A longer NDJSON line is skipped without being held in memory.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from functools import cache, partial
from itertools import chain
from typing import Any, Final, TypeVar, overload

import msgspec
import orjson
from msgspec import Struct

from trailhound.cloudtrail.record import (
    TOO_DEEP,
    Record,
    RecordRejected,
    decode_record,
    decode_records_file,
    record_from_object,
)
from trailhound.sources import BlobError, Corrupt, Truncated, Unreadable

MAX_RECORD_BYTES: Final = 1 << 20
MAX_DOCUMENT_BYTES: Final = 512 << 20
_HEAD_BYTES: Final = 64 << 10
_MAX_DEPTH: Final = 4  # envelope in envelope: SQS batch > message body > EventBridge event

# reasons: short and stable, a run counts set-aside input by them
CANNOT_READ: Final = "cannot read"
TRUNCATED: Final = "truncated gzip"
CORRUPT: Final = "corrupt gzip"
EMPTY: Final = "empty file"
BINARY: Final = "binary data"
NOT_JSON: Final = "not JSON"
INVALID_JSON: Final = "invalid JSON"
INVALID_CSV: Final = "invalid CSV"
NOT_CLOUDTRAIL: Final = "not CloudTrail"
TOO_LARGE: Final = "too large"
UNEXPECTED: Final = "unexpected error"

_BLOB_REASONS: Final[dict[type[BlobError], str]] = {
    Truncated: TRUNCATED,
    Corrupt: CORRUPT,
    Unreadable: CANNOT_READ,
}


class Limits(Struct, frozen=True):
    record: int = MAX_RECORD_BYTES
    document: int = MAX_DOCUMENT_BYTES


class Found(Struct, frozen=True):
    """Records read, each with its position in the file ("record 3", "line 12")."""

    records: list[Record]
    positions: Sequence[str]


class Bad(Struct, frozen=True):
    """Input set aside. `records` is None when the count is unknown (a file that is unreadable)."""

    reason: str
    position: str | None = None
    detail: str = ""
    records: int | None = 1


class Skip(Struct, frozen=True):
    """CloudTrail that holds no API activity; a note, not an error."""

    note: str
    position: str | None = None


Item = Found | Bad | Skip


class _Rec(Struct, frozen=True):
    record: Record
    position: str


_Piece = _Rec | Bad | Skip


class Numbered(Sequence[str]):
    """Positions `record 1` ... `record n`, made only when asked for (the fast path never asks)."""

    def __init__(self, unit: str, count: int) -> None:
        self._unit = unit
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return f"{self._unit} {index % self._count + 1}"


def split(chunks: Iterable[bytes], *, limits: Limits | None = None) -> Iterator[Item]:
    """The records in one blob's content, and what was set aside or skipped, in file order."""
    stream = _Stream(chunks)
    chunk_iter = iter(stream)
    body, first_line, whole = _head(chunk_iter)
    if not body:
        yield stream.bad() if stream.error else Bad(EMPTY, records=None)
        return
    reader = _form_reader(body, first_line, one_line=whole and b"\n" not in body.rstrip())
    yield from _grouped(reader(chain([body], chunk_iter), stream, limits or Limits()))
    if stream.error is not None and not stream.reported:
        yield stream.bad()


_SPACE: Final = b" \t\r\n"
_Reader = Callable[[Iterator[bytes], "_Stream", Limits], Iterator["_Piece | Found"]]


def _form_reader(body: bytes, first_line: int, *, one_line: bool) -> _Reader:
    if not one_line and not body.startswith(b"{") and _lines_of_json(body):
        # NDJSON whose first line is no record (a string, a number, a list): that line alone
        # is set aside, not the file
        return partial(_ndjson, first=first_line)
    if body.startswith(b"["):
        return _array_document
    if RECORDS_START.match(body):
        return _records_document
    if body.startswith(b"{"):
        return _object_or_lines(body, first_line, one_line=one_line)
    if _lake_header(body):
        return _lake_csv
    return _not_json


class _Stream:
    """Iterates a blob's chunks; a `BlobError` ends the iteration and is kept in `error`."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.error: BlobError | None = None
        self.reported = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except BlobError as exc:
            self.error = exc

    def bad(self, position: str | None = None, kept: str = "") -> Bad:
        """The message about the error that ended the stream; call it once `error` is set."""
        assert self.error is not None
        self.reported = True
        reason = _BLOB_REASONS.get(type(self.error), CANNOT_READ)
        detail = f"{self.error.reason}; {kept}" if kept else self.error.reason
        return Bad(reason, position, detail, records=None)


def _head(chunks: Iterator[bytes]) -> tuple[bytes, int, bool]:
    """The start of the content without a byte-order mark and leading blank space, at least
    64 KiB of it unless there is less; the line it starts on; and whether that is all."""
    parts: list[bytes] = []
    size, line, first = 0, 1, True
    for chunk in chunks:
        if first and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        first = False
        if not parts:  # blank space is counted and dropped, never held
            text = chunk.lstrip(_SPACE)
            line += chunk.count(b"\n", 0, len(chunk) - len(text))
            if not text:
                continue
            chunk = text
        parts.append(chunk)
        size += len(chunk)
        if size >= _HEAD_BYTES:
            return b"".join(parts), line, False
    return b"".join(parts), line, True


def _grouped(pieces: Iterable[_Piece | Found]) -> Iterator[Item]:
    """Runs of single records become one `Found`, so the reader handles few, large items."""
    records: list[Record] = []
    positions: list[str] = []
    for piece in pieces:
        if isinstance(piece, _Rec):
            records.append(piece.record)
            positions.append(piece.position)
            continue
        if records:
            yield Found(records, positions)
            records, positions = [], []
        yield piece
    if records:
        yield Found(records, positions)


# -- whole documents ---------------------------------------------------------------------------

RECORDS_START: Final = re.compile(rb'\{\s*"Records"\s*:\s*\[')
"""How a `{"Records": [...]}` document starts, once a byte-order mark and blank space are gone."""


_T = TypeVar("_T")


class _RawRecords(msgspec.Struct):
    Records: list[msgspec.Raw]


@cache
def _raw_records_decoder() -> msgspec.json.Decoder[_RawRecords]:
    return msgspec.json.Decoder(_RawRecords)


@cache
def _raw_list_decoder() -> msgspec.json.Decoder[list[msgspec.Raw]]:
    return msgspec.json.Decoder(list[msgspec.Raw])


def _whole(content: Iterator[bytes], limit: int) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    for chunk in content:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _too_large(limit: int) -> Bad:
    detail = f"more than {limit >> 20} MiB in one JSON document; split it, or write it as NDJSON"
    return Bad(TOO_LARGE, detail=detail, records=None)


def _records_document(
    content: Iterator[bytes], stream: _Stream, limits: Limits
) -> Iterator[_Piece | Found]:
    data = _whole(content, limits.document)
    if data is None:
        yield _too_large(limits.document)
        return
    # Insights records have no eventName, so an Insights file fails here and is sorted out below
    if stream.error is None:
        try:
            records = decode_records_file(data)
        except msgspec.MsgspecError:
            pass  # taken apart below, record by record
        else:
            yield Found(records, Numbered("record", len(records)))
            return
    yield from _elements(data, stream, _raw_records_decoder(), lambda d: d.Records)


def _array_document(
    content: Iterator[bytes], stream: _Stream, limits: Limits
) -> Iterator[_Piece | Found]:
    data = _whole(content, limits.document)
    if data is None:
        yield _too_large(limits.document)
        return
    yield from _elements(data, stream, _raw_list_decoder(), lambda d: d)


def _elements(
    data: bytes,
    stream: _Stream,
    decoder: msgspec.json.Decoder[_T],
    elements_of: Callable[[_T], list[msgspec.Raw]],
) -> Iterator[_Piece]:
    """Each element of the document's array, decoded on its own so one bad record stays one."""
    try:
        raws: Sequence[bytes | msgspec.Raw] = elements_of(decoder.decode(data))
        error = ""
    except msgspec.DecodeError as exc:
        raws, error = split_array(data)[0], str(exc)
    except RecursionError:  # some record nests deeper than msgspec follows: each on its own
        raws, error = split_array(data)[0], TOO_DEEP
    except msgspec.ValidationError as exc:
        yield Bad(NOT_CLOUDTRAIL, detail=f"the document is not a list of records ({exc})")
        return
    insights = 0
    for number, raw in enumerate(raws, 1):
        pieces = list(_element(raw, f"record {number}"))
        if isinstance(stream.error, Corrupt) and any(_unparsed(p) for p in pieces):
            # in a damaged stream the first record that does not parse is where the damage is
            yield stream.bad(f"record {number}", _kept_records(number - 1))
            return
        for piece in pieces:
            if isinstance(piece, Skip) and piece.note == INSIGHTS:
                insights += 1
            else:
                yield piece
    if insights:
        yield Skip(INSIGHTS)
    if stream.error is not None:
        yield stream.bad(f"record {len(raws) + 1}", _kept_records(len(raws)))
    elif error:
        yield from _broken_document(data, error, len(raws))


def _unparsed(piece: _Piece) -> bool:
    return isinstance(piece, Bad) and piece.reason == INVALID_JSON


def _broken_document(data: bytes, error: str, count: int) -> Iterator[Bad]:
    """Where a document that does not parse whole breaks, unless that is inside a record
    (each broken record has already been reported on its own)."""
    _, stop, closed = split_array(data)
    offset = _error_offset(error)
    if closed and (offset is None or offset < stop):
        return
    line, column = _line_column(data, stop if offset is None else offset)
    text = f"{_json_error(error)} at line {line}, column {column}"
    if closed:
        yield Bad(INVALID_JSON, detail=f"{text}, after the records", records=None)
    else:
        yield Bad(INVALID_JSON, f"record {count + 1}", f"{text}; {_kept_records(count)}", None)


def _kept_records(count: int) -> str:
    if count == 0:
        return "no record before it was complete"
    if count == 1:
        return "the complete record before it was read"
    return f"the {count} complete records before it were read"


def _error_offset(message: str) -> int | None:
    found = re.search(r"\(byte (\d+)\)", message)
    return int(found[1]) if found else None


def _element(raw: bytes | msgspec.Raw, position: str) -> Iterator[_Piece]:
    """One record from its JSON: strictly typed if it is well formed, else by its shape."""
    try:
        yield _Rec(decode_record(raw), position)
        return
    except msgspec.MsgspecError:
        pass  # not a well-typed record: parse it and look at its shape
    try:
        value = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError as exc:
        yield Bad(INVALID_JSON, position, f"{_json_error(exc.msg)} ({_place(exc, position)})")
        return
    yield from _objects(value, position)


def _place(exc: orjson.JSONDecodeError, position: str) -> str:
    if position.startswith("line "):
        return f"column {exc.colno}"
    if exc.lineno == 1:
        return f"character {exc.colno} of the record"
    return f"line {exc.lineno} of the record, column {exc.colno}"


# -- NDJSON, or one object ----------------------------------------------------------------------


def _object_or_lines(body: bytes, first_line: int, *, one_line: bool) -> _Reader:
    """One object when the content is one line or a pretty-printed object; NDJSON when the
    first line is a whole JSON value followed by more. A first line too long to be a record
    is read as NDJSON too, so that it is reported as such.
    """
    end = body.find(b"\n")
    if one_line:
        return partial(_object_document, first_line=first_line)
    if end < 0 or _is_json(body[:end]):
        return partial(_ndjson, first=first_line)
    return partial(_object_document, first_line=first_line)


def _lines_of_json(body: bytes) -> bool:
    """Whether the first line is a whole JSON value with more lines after it: lines, each to
    be read (or set aside) on its own."""
    first, _, rest = body.partition(b"\n")
    return bool(rest.strip()) and _is_json(first)


def _is_json(data: bytes) -> bool:
    try:
        msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def _ndjson(
    content: Iterator[bytes], stream: _Stream, limits: Limits, *, first: int
) -> Iterator[_Piece]:
    last, cut = first - 1, False
    # Lines that are not JSON are held back: if the gzip stream turns out damaged, they are the
    # damage, and one message says so instead of one per line.
    unparsed = _Unparsed()
    for number, line, ended in _lines(content, limits.record, first):
        last = number
        position = f"line {number}"
        if isinstance(line, int):
            yield _line_too_large(position, line, limits.record)
        elif not ended and stream.error is not None and not _is_json(line):
            cut = True  # the cut went through this line: said once, below
        elif line.strip():
            for piece in _element(line, position):
                if isinstance(piece, Bad) and _unparsed(piece):
                    unparsed.add(number, piece)
                else:
                    yield piece
    if isinstance(stream.error, Corrupt) and unparsed.first is not None:
        yield stream.bad(f"line {unparsed.first}", unparsed.kept())
        return
    yield from unparsed.held()
    if stream.error is None:
        return
    if cut:
        yield stream.bad(f"line {last}", "the complete lines before it were read")
    else:
        yield stream.bad(f"after line {last}", "every line up to there was read")


class _Unparsed:
    """Lines that did not parse, kept up to a bound and counted beyond it."""

    _KEEP: Final = 10_000

    def __init__(self) -> None:
        self.first: int | None = None
        self.count = 0
        self._held: list[Bad] = []

    def add(self, number: int, bad: Bad) -> None:
        self.first = number if self.first is None else self.first
        self.count += 1
        if len(self._held) < self._KEEP:
            self._held.append(bad)

    def held(self) -> Iterator[Bad]:
        yield from self._held
        more = self.count - len(self._held)
        if more:
            yield Bad(INVALID_JSON, detail=f"and {more:,} more lines", records=more)

    def kept(self) -> str:
        later = self.count - 1
        text = "the lines before it were read"
        return f"{text}; {later:,} lines after it did not parse either" if later else text


def _line_too_large(position: str, size: int, limit: int) -> Bad:
    detail = (
        f"{size:,} bytes on one line, more than the {limit >> 10:,} KiB trailhound takes for "
        "one record (CloudTrail writes at most 256 KB)"
    )
    return Bad(TOO_LARGE, position, detail)


def _lines(
    content: Iterable[bytes], limit: int, first: int
) -> Iterator[tuple[int, bytes | int, bool]]:
    """(line number, line, ended by a newline) for each line; the line's size instead of the
    line when it is longer than `limit`, which is then never held in memory whole."""
    number = first - 1
    pending = b""
    skipped = 0  # bytes of an over-long line seen so far
    for chunk in content:
        if skipped:
            end = chunk.find(b"\n")
            if end < 0:
                skipped += len(chunk)
                continue
            number += 1
            yield number, skipped + end, True
            skipped, chunk = 0, chunk[end + 1 :]
        parts = chunk.split(b"\n")
        parts[0] = pending + parts[0]
        pending = parts.pop()
        for part in parts:
            number += 1
            yield number, part if len(part) <= limit else len(part), True
        if len(pending) > limit:
            skipped, pending = len(pending), b""
    if skipped or pending:
        yield number + 1, skipped or pending, False


def _object_document(
    content: Iterator[bytes], stream: _Stream, limits: Limits, *, first_line: int
) -> Iterator[_Piece]:
    data = _whole(content, limits.document)
    if data is None:
        yield _too_large(limits.document)
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if stream.error is None:  # a number orjson refuses (1e999) in a free-form member?
            with suppress(msgspec.MsgspecError):
                yield _Rec(decode_record(data), "record 1")
                return
        yield from _broken_object(data, stream, exc, limits, first_line)
        return
    yield from _objects(value, None)


def _broken_object(
    data: bytes, stream: _Stream, exc: orjson.JSONDecodeError, limits: Limits, first_line: int
) -> Iterator[_Piece]:
    if stream.error is not None:
        yield stream.bad()
        return
    if any(_is_json(line) for line in data.split(b"\n")[1:] if line.strip()):
        # NDJSON whose first line is the broken one: read it line by line
        yield from _ndjson(iter([data]), stream, limits, first=first_line)
        return
    line = exc.lineno + first_line - 1
    detail = f"{_json_error(exc.msg)} at line {line}, column {exc.colno}"
    yield Bad(INVALID_JSON, detail=detail, records=None)


# -- what a JSON object is ----------------------------------------------------------------------

INSIGHTS: Final = "CloudTrail Insights events"
_SKIPPED_SHAPES: Final = (
    (("digestStartTime", "digestEndTime"), "CloudTrail digest file"),
    (("hashSignature", "queryCompleteTime"), "CloudTrail Lake sign file"),
    (("s3Bucket", "s3ObjectKey"), "CloudTrail SNS notification"),
    (("trailhound_answer_key", "alerts"), "the answer key of trailhound simulate"),
)
_CLOUDTRAIL_DETAIL: Final = "via CloudTrail"
# an object with none of these (in any case) is not a CloudTrail record gone wrong, but something
# else altogether
_CLOUDTRAIL_KEYS: Final = frozenset(
    {"eventname", "eventtime", "eventsource", "eventid", "eventversion", "useridentity"}
    | {"@timestamp"}
)


def _objects(value: Any, position: str | None, depth: int = 0) -> Iterator[_Piece]:
    """The records in one parsed JSON value, whatever envelope it is in."""
    if depth > _MAX_DEPTH:
        yield Bad(NOT_CLOUDTRAIL, position, "envelopes nested too deep")
        return
    if not isinstance(value, dict):
        yield Bad(NOT_CLOUDTRAIL, position, f"{_kind(value)} where a record should be")
        return
    for keys, note in _SKIPPED_SHAPES:
        if all(k in value for k in keys):
            yield Skip(note, position)
            return
    if isinstance(value.get("Records"), list):
        yield from _records_list(value["Records"], position, depth)
    elif "detail-type" in value and "detail" in value:
        yield from _eventbridge(value, position, depth)
    elif isinstance(value.get("body"), str) and ("messageId" in value or "receiptHandle" in value):
        yield from _sqs_message(value["body"], position, depth)
    elif isinstance(value.get("QueryResultRows"), list):
        yield from _lake_rows(value["QueryResultRows"], position)
    elif value.get("eventSource") == "aws:s3" and "s3" in value:
        yield Skip("S3 event notification", position)
    elif value.get("eventType") == "AwsCloudTrailInsight" or "insightDetails" in value:
        yield Skip(INSIGHTS, position)
    else:
        yield _record(value, position)


def _record(value: dict[str, Any], position: str | None) -> _Piece:
    if not any(isinstance(k, str) and k.lower() in _CLOUDTRAIL_KEYS for k in value):
        keys = ", ".join(str(k) for k in list(value)[:5]) or "none"
        return Bad(NOT_CLOUDTRAIL, position, f"an object with no CloudTrail member (keys: {keys})")
    try:
        return _Rec(record_from_object(value), position or "record 1")
    except RecordRejected as exc:
        return Bad(exc.message, position)
    except Exception as exc:  # one odd record must not stop the file; say what happened
        return Bad(UNEXPECTED, position, f"{type(exc).__name__}: {exc}")


def _records_list(items: list[Any], position: str | None, depth: int) -> Iterator[_Piece]:
    for number, item in enumerate(items, 1):
        where = f"{position}, record {number}" if position else f"record {number}"
        yield from _objects(item, where, depth + 1)


def _eventbridge(event: dict[str, Any], position: str | None, depth: int) -> Iterator[_Piece]:
    kind = event["detail-type"]
    if not isinstance(kind, str) or not kind.endswith(_CLOUDTRAIL_DETAIL):
        yield Bad(NOT_CLOUDTRAIL, position, f"an EventBridge event of detail-type {kind!r}")
    elif "Insight" in kind:
        yield Skip(INSIGHTS, position)
    else:
        yield from _objects(event["detail"], position, depth + 1)


def _sqs_message(body: str, position: str | None, depth: int) -> Iterator[_Piece]:
    if len(body) > MAX_RECORD_BYTES:
        yield _line_too_large(position or "message", len(body), MAX_RECORD_BYTES)
        return
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        yield Bad(INVALID_JSON, position, f"the SQS message body: {_json_error(str(exc))}")
        return
    yield from _objects(value, position, depth + 1)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# -- CloudTrail Lake ----------------------------------------------------------------------------

_LAKE_COLUMNS: Final = frozenset({"eventtime", "eventname", "eventid", "eventsource"})
# Lake's struct members are lower-case; these are the CloudTrail names normalization looks for
# outside userIdentity (whose keys `record_from_object` folds back itself).
_LAKE_MEMBER_NAMES: Final = {
    name.lower(): name
    for name in (
        "accountId",
        "ARN",
        "type",
        "tlsVersion",
        "cipherSuite",
        "clientProvidedHostHeader",
    )
}
_LAKE_STRUCTS: Final = frozenset({"resources", "tlsdetails"})
_LAKE_BOOLEANS: Final = frozenset({"readonly", "managementevent", "sessioncredentialfromconsole"})
_LAKE_TEXT: Final = re.compile(r"[{\[]")


def _lake_header(body: bytes) -> bool:
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace")
    names = {name.strip().strip('"').lower() for name in first.split(",")}
    return "," in first and bool(names & _LAKE_COLUMNS)


def _lake_csv(content: Iterator[bytes], stream: _Stream, limits: Limits) -> Iterator[_Piece]:
    lines = _text_lines(content)
    rows = csv.DictReader(lines)
    try:
        for row in rows:
            yield _record(lake_row(row), f"line {rows.line_num}")
    except (csv.Error, UnicodeDecodeError) as exc:
        yield Bad(INVALID_CSV, f"line {rows.line_num}", str(exc), records=None)
    if stream.error is not None:
        yield stream.bad(f"line {rows.line_num}", "the rows before it were read")


def _lake_rows(rows: list[Any], position: str | None) -> Iterator[_Piece]:
    for number, row in enumerate(rows, 1):
        where = f"{position}, row {number}" if position else f"row {number}"
        if not isinstance(row, list) or not all(isinstance(c, dict) for c in row):
            yield Bad(NOT_CLOUDTRAIL, where, "a query result row is a list of {column: value}")
            continue
        yield _record(lake_row({k: v for column in row for k, v in column.items()}), where)


def lake_row(row: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail Lake result row as a CloudTrail-shaped object.

    Lake returns scalars as text and structs and maps as `{key=value, ...}` text; both are
    turned back into JSON values here, best effort: a value that does not parse stays text.
    """
    out: dict[str, Any] = {}
    for column, value in row.items():
        if column is None or value in (None, "", "null"):
            continue
        name = column.strip().lower()
        if isinstance(value, str) and name in _LAKE_BOOLEANS:
            out[column] = value.lower() == "true"
        elif isinstance(value, str) and _LAKE_TEXT.match(value):
            parsed = parse_lake_value(value)
            out[column] = _lake_members(parsed) if name in _LAKE_STRUCTS else parsed
        else:
            out[column] = value
    return out


def _lake_members(value: Any) -> Any:
    if isinstance(value, list):
        return [_lake_members(v) for v in value]
    if isinstance(value, dict):
        return {_LAKE_MEMBER_NAMES.get(k.lower(), k): _lake_members(v) for k, v in value.items()}
    return value


def parse_lake_value(text: str) -> Any:
    """`{a=1, b={c=x}, d=[{e=f}]}` (Trino's text form of rows and maps) as dicts and lists.

    Values that are JSON (Lake keeps nested request parameters as JSON text) are parsed as JSON.
    Anything that does not parse is returned unchanged.
    """
    data = text.encode()
    try:
        value, end = _LakeText(data).value(0)
    except (ValueError, IndexError, UnicodeDecodeError):
        return text
    return value if end == len(data) else text


class _LakeText:
    """A small recursive-descent reader of `{k=v, ...}` / `[v, ...]` text."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def value(self, at: int) -> tuple[Any, int]:
        data = self.data
        if data.startswith((b'{"', b'["', b'[{"'), at):
            parsed = self._json(at)
            if parsed is not None:
                return parsed
        if data.startswith(b"{", at):
            return self._container(at + 1, b"}", keyed=True)
        if data.startswith(b"[", at):
            return self._container(at + 1, b"]", keyed=False)
        found = _SCALAR_END.search(data, at)
        end = found.start() if found else len(data)
        raw = data[at:end].decode()
        return (None if raw == "null" else raw), end

    def _container(self, at: int, close: bytes, *, keyed: bool) -> tuple[Any, int]:
        data = self.data
        items: list[Any] = []
        pairs: dict[str, Any] = {}
        if data.startswith(close, at):
            return (pairs if keyed else items), at + 1
        while True:
            if keyed:
                eq = data.index(b"=", at)
                key = data[at:eq].decode().strip()
                pairs[key], at = self.value(eq + 1)
            else:
                item, at = self.value(at)
                items.append(item)
            if data.startswith(close, at):
                return (pairs if keyed else items), at + 1
            if not data.startswith(b", ", at):
                raise ValueError(at)
            at += 2

    def _json(self, at: int) -> tuple[Any, int] | None:
        end = _element_end(self.data, at)
        end = len(self.data) if end is None else end
        try:
            return orjson.loads(self.data[at:end]), end
        except orjson.JSONDecodeError:
            return None


_SCALAR_END: Final = re.compile(rb", |[}\]]")


def _text_lines(content: Iterator[bytes]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for chunk in content:
        parts = (pending + decoder.decode(chunk)).split("\n")
        pending = parts.pop()
        for part in parts:
            yield part + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _not_json(content: Iterator[bytes], stream: _Stream, limits: Limits) -> Iterator[_Piece]:
    head = next(content, b"")[:4096]
    if b"\x00" in head or not _is_text(head):
        yield Bad(BINARY, detail="the file is not text, so not CloudTrail JSON", records=None)
        return
    start = head.split(b"\n", 1)[0][:40].decode("utf-8", "replace")
    yield Bad(NOT_JSON, detail=f"the file starts with {start!r}", records=None)


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3  # a character cut at the end of the sample is fine
    return True


# -- splitting a JSON array that does not parse as a whole --------------------------------------

_STRUCTURE: Final = re.compile(rb'["{}\[\],]')
_STRING_REST: Final = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def split_array(data: bytes) -> tuple[list[bytes], int, bool]:
    """The complete elements of the first JSON array in `data`, the offset where reading
    stopped, and whether that is the array's closing bracket.

    It tracks nesting and strings only, so an element with bad JSON inside is still cut out whole
    (and fails on its own when decoded), and an array cut short yields its complete elements.
    """
    start = data.find(b"[")
    if start < 0:
        return [], 0, False
    elements: list[bytes] = []
    at = start + 1
    while True:
        end = _element_end(data, at)
        if end is None:
            return elements, at, False
        piece = data[at:end].strip()
        if piece:
            elements.append(piece)
        if data[end] != ord(","):
            return elements, end + 1, data[end] == ord("]")
        at = end + 1


def _element_end(data: bytes, at: int) -> int | None:
    """Offset of the `,` or `]` that ends the element starting at `at`; None if it never ends."""
    depth = 0
    while True:
        found = _STRUCTURE.search(data, at)
        if found is None:
            return None
        char = data[found.start()]
        at = found.end()
        if char == ord('"'):
            closed = _STRING_REST.match(data, at)
            if closed is None:
                return None
            at = closed.end()
        elif char in b"{[":
            depth += 1
        elif char in b"}]":
            if depth == 0:
                return found.start()
            depth -= 1
        elif depth == 0:  # a comma between elements
            return found.start()


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _json_error(message: str) -> str:
    """A JSON parser's message without its own position (we give ours) and capitalization."""
    text = re.sub(r"\s*(\(byte \d+\)|: line \d+ column \d+ \(char \d+\))$", "", message)
    text = text.removeprefix("JSON is malformed: ")
    return text[:1].lower() + text[1:]
