"""ECS columns straight from member columns (what a skimmer reads, `cloudtrail.skim`), no records.

`normalized_columns` takes one string column per member path (`paths_for(fields)`) and makes,
for the rows it can, exactly the columns `ecs.normalize` makes from the decoded records: the
same Elastic cleaning, the same derivations per distinct value (`derived.py`), the same batch
(`columnset.py`). Everything is an Arrow kernel or a derivation per distinct value. What text
paths cannot give comes from raw paths (`RAW_PATHS`: the JSON texts of `resources`, the request
and the response, as a skimmer gives them): the resources, one derivation per distinct text;
whether there is a response; whether a request or response may name tables by other keys, and
a BatchWriteItem's items (`record_members.py`).

A row whose wanted fields need more goes to `left`, for the caller to normalize the old way:
an `eventTime` not in CloudTrail's own `YYYY-MM-DDTHH:MM:SSZ` form, a ConsoleLogin's outcome
(read from its response), a UserAuthentication's user (read from its additional data), a
DynamoDB call whose operations are read from its request (PartiQL batches; BatchWriteItem,
BatchGetItem and the two transactions are read here from their requests), a table named by
other request keys or a response, a response's own fields where there is one, and Lambda and AWS
Backup events when their tables are wanted. `takes` says which actions to send the old way
without asking.

Where the compiled makers (`compiled_columns.py`) were built, the member columns' cleaning, the
coalesces, the outcome and the event times are asked of them first; they answer None where they
cannot, and Arrow's kernels here stay the reference and the path without a compiler.

Rows are not rejected here: `normalize` rejects a record for its `eventTime` (such rows are
left) or for a malformed `userIdentity`, which a skimmer holding every identity path of `PATHS`
to "a string or null" has already refused (it returns no columns for such a file).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from functools import cache, cached_property, partial
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import numpy as np
import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import compiled_columns, dynamodb, operations, request_readers
from trailhound.cloudtrail.columnset import ColumnSet, Distinct, cleaned, distinct_codes
from trailhound.cloudtrail.derived import (
    ADDRESS_COLUMNS,
    CONSTANTS,
    TEXT_MEMBERS,
    USER_AGENT_COLUMNS,
    address_values,
    categories,
    is_email,
    service_name,
    session_name,
    user_agent_values,
)
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.nulling import Kept
from trailhound.cloudtrail.record import parse_iso8601
from trailhound.cloudtrail.record_members import (
    RAW_PATHS,
    READ_KEYS,
    REQUEST,
    RESOURCES,
    RESPONSE,
    STATEMENT_KEYS,
    BatchWrites,
    describes_tables,
    names_elsewhere,
)
from trailhound.cloudtrail.resources import (
    RESOURCE_COLUMNS,
    Resources,
    resource_list,
    resources_of,
    tables_in_resources,
)
from trailhound.cloudtrail.schema import BY_NAME, arrow_schema
from trailhound.cloudtrail.skim import keys_path
from trailhound.collector import paused
from trailhound.numpy_arrow import arrow_array

V = TypeVar("V")

_IDENTITY: Final = "userIdentity."
_ISSUER: Final = "userIdentity.sessionContext.sessionIssuer."
_ATTRIBUTES: Final = "userIdentity.sessionContext.attributes."
_ON_BEHALF_OF: Final = "userIdentity.onBehalfOf."
# Every member `record.UserIdentity` types: a skimmer that held them all to "a string or null"
# (and their parents to "an object or null") vouches that `decode_identity` takes the identity.
_IDENTITY_PATHS: Final = (
    *(_IDENTITY + name for name in ("type", "principalId", "arn", "accountId", "accessKeyId")),
    *(_IDENTITY + name for name in ("userName", "invokedBy")),
    *(_ISSUER + name for name in ("type", "principalId", "arn", "accountId", "userName")),
    _ATTRIBUTES + "mfaAuthenticated",
    _ATTRIBUTES + "creationDate",
    _ON_BEHALF_OF + "userId",
    _ON_BEHALF_OF + "identityStoreArn",
)
_TABLE_NAME: Final = "requestParameters.tableName"
_CONTEXT_TABLE: Final = "requestParameters.encryptionContext." + dynamodb.KMS_CONTEXT_KEY
_STATEMENT: Final = "requestParameters.statement"
# the table-naming keys a request holds and the table descriptions a response holds, at any
# depth, as a skimmer finds them while it reads the record: searching the members' JSON text
# again for those keys cost per byte (a PutItem's item is most of a task's bytes)
_REQUEST_KEYS: Final = keys_path(REQUEST, dynamodb.REQUEST_KEYS)
_RESPONSE_KEYS: Final = keys_path(RESPONSE, dynamodb.RESPONSE_DESCRIPTIONS)
_KEYS_PATHS: Final = (_REQUEST_KEYS, _RESPONSE_KEYS)
"""Optional: without them, the members' JSON texts are searched as before."""
# read for every row; the identity's paths are read only for the fields made from them (taking
# the eleven a pack's fields rarely read cost a third of the step's copying), but the skimmer
# is asked for them all (`PATHS`)
_ALWAYS: Final = ("eventTime", "eventName", "eventSource")

_IDENTITY_TEXTS: Final = (
    ("aws.cloudtrail.user_identity.type", _IDENTITY + "type"),
    ("aws.cloudtrail.user_identity.arn", _IDENTITY + "arn"),
    ("aws.cloudtrail.user_identity.access_key_id", _IDENTITY + "accessKeyId"),
    ("aws.cloudtrail.user_identity.invoked_by", _IDENTITY + "invokedBy"),
    ("aws.cloudtrail.user_identity.session_context.mfa_authenticated",
     _ATTRIBUTES + "mfaAuthenticated"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.type", _ISSUER + "type"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.arn", _ISSUER + "arn"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
     _ISSUER + "principalId"),
    ("aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
     _ISSUER + "accountId"),
    ("aws.cloudtrail.recipient_account_id", "recipientAccountId"),
)  # fmt: skip
_CREATION_DATE: Final = "aws.cloudtrail.user_identity.session_context.creation_date"
_USER_NAMES: Final = (_IDENTITY + "userName", _ISSUER + "userName")

# ECS field -> the member paths it is made from (besides _ALWAYS)
_FROM: Final[dict[str, tuple[str, ...]]] = {
    **{name: () for name, _ in CONSTANTS},
    "event.ingested": (),
    "@timestamp": (),
    "event.action": (),
    "event.provider": (),
    "event.category": (),
    "event.type": (),
    "cloud.service.name": (),
    "event.id": ("eventID",),
    "cloud.region": ("awsRegion",),
    "event.outcome": ("errorCode", "errorMessage"),
    **{name: (member,) for name, member in TEXT_MEMBERS},
    **{name: (path,) for name, path in _IDENTITY_TEXTS},
    "user.id": (_IDENTITY + "type", _IDENTITY + "principalId", _ON_BEHALF_OF + "userId"),
    "service.name": (_IDENTITY + "type", _IDENTITY + "invokedBy"),
    _CREATION_DATE: (_ATTRIBUTES + "creationDate",),
    "user.name": _USER_NAMES,
    "user.email": (*_USER_NAMES, _IDENTITY + "type", _IDENTITY + "arn"),
    "aws.cloudtrail.recipient_account_id": ("recipientAccountId",),
    "cloud.account.id": (_IDENTITY + "accountId", "recipientAccountId"),
    "source.address": ("sourceIPAddress",),
    **dict.fromkeys(ADDRESS_COLUMNS, ("sourceIPAddress",)),
    **dict.fromkeys(USER_AGENT_COLUMNS, ("userAgent",)),
    # items, and whether named elsewhere
    operations.COLUMN: (_STATEMENT, REQUEST, RESPONSE, *_KEYS_PATHS),
    "aws.dynamodb.table_name": (_TABLE_NAME, _CONTEXT_TABLE, _STATEMENT, *RAW_PATHS, *_KEYS_PATHS),
    **dict.fromkeys(RESOURCE_COLUMNS, (RESOURCES,)),
    "aws.cloudtrail.response_elements": (RESPONSE,),
    "aws.cloudtrail.flattened.response_elements": (RESPONSE,),
}

_ALL_PATHS: Final = (*_ALWAYS, *_IDENTITY_PATHS, *(p for paths in _FROM.values() for p in paths))
PATHS: Final = tuple(p for p in dict.fromkeys(_ALL_PATHS) if p not in RAW_PATHS)
"""The text paths `normalized_columns` may read: string or null, as a skimmer's `paths`."""


def supported(fields: Collection[str]) -> bool:
    """Whether `normalized_columns` can make these fields (for some rows at least)."""
    return all(name in _FROM for name in fields)


def takes(fields: Collection[str], source: str | None, action: str | None) -> bool:
    """Whether `normalized_columns` can do the calls of one action with these fields: a caller
    sends the others the old way without asking (their rows would all be left)."""
    if not supported(fields):
        return False
    wanted = set(fields)
    return not any(
        wanted.intersection(names) and always_left(source, action)
        for names, always_left in _ALWAYS_LEFT
    )


def _reads_request(source: str | None, action: str | None) -> bool:
    read_here = action in (_BATCH_WRITE, _BATCH_GET, _STATEMENT_CALL, *_PARSED_ACTIONS)
    return source == operations.SOURCE and operations.reads_request(action) and not read_here


def _tables_elsewhere(source: str | None, action: str | None) -> bool:
    return source in dynamodb.TABLE_SOURCES and source not in _READ_SOURCES


_READ_SOURCES: Final = dynamodb.DYNAMODB_SOURCES | {dynamodb.KMS_SOURCE}


# (fields, whether an action's rows always go the old way when one of them is wanted)
_ActionTest = Callable[[str | None, str | None], bool]
_ALWAYS_LEFT: Final[tuple[tuple[tuple[str, ...], _ActionTest], ...]] = (
    (("event.outcome",), lambda source, action: action == "ConsoleLogin"),
    (("user.name", "user.email"), lambda source, action: action == "UserAuthentication"),
    ((operations.COLUMN,), _reads_request),
    (("aws.dynamodb.table_name",), _tables_elsewhere),
)


def paths_for(fields: Collection[str]) -> tuple[str, ...]:
    """The member paths `normalized_columns` reads to make these fields: text paths (of
    `PATHS`), then raw paths (of `RAW_PATHS`)."""
    wanted = {p for name in fields for p in _FROM.get(name, ())}
    return tuple(p for p in (*PATHS, *RAW_PATHS) if p in _ALWAYS or p in wanted)


class Columnar(Struct, frozen=True):
    """`batch` holds the rows `done` (input row numbers, in order) with `arrow_schema()`; the
    rows `left` are for the caller to normalize from their records."""

    batch: pa.RecordBatch
    done: list[int]
    left: list[int]


def normalized_columns(
    columns: Mapping[str, pa.Array],
    fields: Collection[str],
    ingested: datetime,
    enricher: Enricher,
    wanting: Mapping[str, np.ndarray] | None = None,
) -> Columnar:
    """The ECS columns of the rows that need nothing but `columns` (one string array per path of
    `paths_for(fields)`, null where the member is absent or null; a raw path's holds the
    member's JSON text); the other rows are `left`.

    `wanting` narrows a field to some rows (a mask; the fields it does not name are wanted at
    every row): a row is left only for what its own fields need, and the costly fields are
    read only at the rows wanting them, so that rows wanting different fields can share one
    call. It is null at the other rows, as a call for the rows wanting it alone gives."""
    wanted = frozenset(fields)
    missing = [p for p in paths_for(wanted) if p not in columns and p not in _KEYS_PATHS]
    if missing:
        raise ValueError(f"columns lack the paths {', '.join(missing)}")
    n = len(columns["eventName"])
    if not supported(wanted):
        return Columnar(_empty(), [], list(range(n)))
    with paused():
        inputs = _Inputs(columns, n, ingested, enricher)
        cols = ColumnSet(n, wanted)
        for names, fill in _FILLERS:
            if cols.wants(*names):
                inputs.wanting = _rows_wanting(names, wanted, wanting or {})
                fill(cols, inputs)
        return inputs.result(cols, wanting or {})


def _rows_wanting(
    names: Collection[str], wanted: frozenset[str], wanting: Mapping[str, np.ndarray]
) -> np.ndarray | None:
    """The rows wanting some of these fields (a mask), None for every row."""
    found: np.ndarray | None = None
    for name in (name for name in names if name in wanted):
        mask = wanting.get(name)
        if mask is None:
            return None
        found = mask if found is None else found | mask
    return found


def _empty() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=arrow_schema())


# -- the inputs ---------------------------------------------------------------------------------


@runtime_checkable
class TakenAt(Protocol):
    """Columns that can give a path's values at some rows alone, without the whole column."""

    def at(self, path: str, positions: np.ndarray | None) -> pa.Array:
        """The path's values at these row positions (ascending), or at every row (None)."""
        ...

    def where(self, path: str, positions: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """An array holding the path's values, and the places in it of these row positions."""
        ...


_Writes = tuple[pa.Array, BatchWrites]
# the rows (a mask), and which of them name elsewhere (a mask over every row, maybe nulls)
_Statements = tuple[pa.Array, pa.Array]


class _Inputs:
    """The member columns, cleaned on first use, and the rows found to need the old way."""

    def __init__(
        self,
        columns: Mapping[str, pa.Array],
        n: int,
        ingested: datetime,
        enricher: Enricher,
    ) -> None:
        self.columns = columns
        self.n = n
        self.ingested = ingested
        self.enricher = enricher
        self._cleaned: dict[str, pa.Array] = {}
        self._taken_at = columns if isinstance(columns, TakenAt) else None
        self._dictionaries: dict[str, pa.DictionaryArray] = {}
        self._encodings: dict[str, tuple[dict[str, int], np.ndarray]] = {}
        self.times, shaped = _event_times(columns["eventTime"])
        # the rows left so far, gathered in NumPy: a kernel call or two per `leave` (and
        # one per mask at the end) were a good part of a small call's fixed cost
        self._left: np.ndarray = ~_flags(shaped)
        # the rows wanting the fields being filled (a mask), None for all: rows are left only
        # for what they want
        self.wanting: np.ndarray | None = None

    def text(self, path: str) -> pa.Array:
        """The member's column as Elastic cleans it."""
        found = self._cleaned.get(path)
        if found is None:
            raw = _strings(self.columns[path])
            found = compiled_columns.cleaned(raw)
            self._cleaned[path] = found = cleaned(raw) if found is None else found
        return found

    def coalesced(self, *paths: str) -> pa.Array:
        """Per row the first of these members' values that Elastic's cleaning keeps."""
        found = compiled_columns.coalesced([_strings(self.columns[p]) for p in paths], clean=True)
        return kernels.coalesce(*(self.text(p) for p in paths)) if found is None else found

    def raw(self, path: str) -> pa.Array:
        return _strings(self.columns[path])

    def raw_at(self, path: str, rows: pa.Array) -> pa.Array:
        """The member's raw text at the rows of a mask (no nulls): taken at those rows alone
        when the columns can (`TakenAt`, as a skimmer's are), not copied twice."""
        if self._taken_at is None:
            return kernels.filter(self.raw(path), rows)
        positions = np.flatnonzero(rows.to_numpy(zero_copy_only=False))
        return _strings(self._taken_at.at(path, positions))

    def raw_where(self, path: str, rows: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """An array holding the member's raw texts at the rows of a mask, and their places in
        it: the columns' own array when they can tell (`TakenAt`), read in place, not taken."""
        positions = np.flatnonzero(rows)
        if self._taken_at is None:
            return self.raw(path), positions
        texts, places = self._taken_at.where(path, positions)
        return _strings(texts), places

    @cached_property
    def resources(self) -> Distinct[Resources | None]:
        """The rows' resources, read once per distinct JSON text."""
        return Distinct.of(kernels.cast(self.columns[RESOURCES], pa.binary()), resources_of)

    @cached_property
    def batch_writes(self) -> list[_Writes]:
        """Per batch or transaction action, its calls (a mask) and what their requests say, as
        `request_readers` reads them; an action is missing when there are none, or its requests
        are not all of a shape read here. The requests are read where they lie, in one array for
        all the actions (a take of them copied ~1 KB a call)."""
        readers = request_readers.readers()
        calls = [(action, rows) for action in readers if (rows := self._calls(action)) is not None]
        if not calls:
            return []
        masks = [rows.to_numpy(zero_copy_only=False) for _, rows in calls]
        taken = np.logical_or.reduce(masks)
        texts, places = self.raw_where(REQUEST, taken)
        place = np.zeros(self.n, np.int64)
        place[taken] = places  # of each call's request in `texts`
        found = []
        for (action, rows), mask in zip(calls, masks, strict=True):
            read = readers[action](texts, place[mask])
            if read is not None:
                found.append((rows, read))
        return found

    @cached_property
    def statements(self) -> _Statements | None:
        """The ExecuteStatement calls (a mask), and which of them may name tables by more
        than their statement."""
        rows = self._calls(_STATEMENT_CALL)
        if rows is None:
            return None
        return rows, self.named_elsewhere(rows, STATEMENT_KEYS)

    def named_elsewhere(self, rows: pa.Array, read_keys: frozenset[str]) -> pa.Array:
        """Over every row, true at the rows of the mask `rows` whose request holds another
        table-naming key than `read_keys`, or whose response a table description (at any
        depth: `dynamodb.table_names` may read more of them); false or null elsewhere."""
        if not self._keyed:
            requests, responses = self.raw_at(REQUEST, rows), self.raw_at(RESPONSE, rows)
            return _scattered(self.n, rows, names_elsewhere(requests, responses, read_keys))
        asked = self._holding(_REQUEST_KEYS, lambda held: not read_keys.issuperset(held))
        return arrow_array(rows.to_numpy(zero_copy_only=False) & (asked | self._described))

    def described(self, rows: pa.Array) -> pa.Array:
        """Over every row, true at the rows of the mask `rows` whose response holds a table
        description; false or null elsewhere."""
        if not self._keyed:
            return _scattered(self.n, rows, describes_tables(self.raw_at(RESPONSE, rows)))
        return arrow_array(rows.to_numpy(zero_copy_only=False) & self._described)

    @cached_property
    def _described(self) -> np.ndarray:
        """Per row, whether its response holds a table description: its keys column names
        some (any value but null), a validity test where an encoding of the column's texts
        was made twice a call."""
        found: np.ndarray = kernels.is_valid(_strings(self.columns[_RESPONSE_KEYS])).to_numpy(
            zero_copy_only=False
        )
        return found

    @cached_property
    def _keyed(self) -> bool:
        """Whether the columns tell which keys the requests and responses hold."""
        return all(path in self.columns for path in _KEYS_PATHS)

    def _holding(self, path: str, test: Callable[[frozenset[str]], bool]) -> np.ndarray:
        """Per row, whether the keys its keys column names pass `test` (false where none),
        tested once per distinct value."""
        encoded = kernels.dictionary_encode(_strings(self.columns[path]))
        held = [frozenset(text.split(",")) for text in encoded.dictionary.to_pylist()]
        passed = np.array([test(keys) for keys in held] + [False], np.bool_)
        codes = kernels.fill_null(encoded.indices, len(held)).to_numpy(zero_copy_only=False)
        found: np.ndarray = passed[codes]
        return found

    def _calls(self, action: str) -> pa.Array | None:
        """The rows (a mask) of this DynamoDB action, when there are some."""
        calls = self._dynamodb & self.among("eventName", action)
        return arrow_array(calls) if calls.any() else None

    @cached_property
    def _dynamodb(self) -> np.ndarray:
        return self.among("eventSource", operations.SOURCE)

    @cached_property
    def dynamodb(self) -> pa.Array:
        """DynamoDB's own calls (a mask)."""
        return arrow_array(self._dynamodb)

    def leave(self, rows: pa.Array | np.ndarray) -> None:
        """Send these rows (a boolean mask, a null as false) the old way, those wanting the
        fields being filled."""
        flags = rows if isinstance(rows, np.ndarray) else _flags(rows)
        if self.wanting is not None:
            flags = flags & self.wanting
        self._left |= flags

    def action_is(self, action: str) -> np.ndarray:
        return self.among("eventName", action)

    def among(self, path: str, *values: str) -> np.ndarray:
        """Whether each row's cleaned text at `path` is one of `values` (not when null), by
        its code among the column's distinct texts: a NumPy comparison per mask, where
        `equal` and `fill_null` cost two kernel calls, a good part of a small call's time."""
        index, codes = self._encoded(path)
        known = [index[value] for value in values if value in index]
        if len(known) < 2:
            found: np.ndarray = codes == known[0] if known else np.zeros(len(codes), np.bool_)
            return found
        # a table of the column's few codes, read at each row: `np.isin` sorts or hashes,
        # ~4x the cost at a task's rows; a null's code (-1) reads the table's last place
        table = np.zeros(len(index) + 1, np.bool_)
        table[known] = True
        found = table[codes]
        return found

    def distinct(self, path: str, derive: Callable[[Any], V]) -> Distinct[V]:
        """`Distinct.of` the member's cleaned column, from its one encoding a call (`among`
        reads it too): an encoding is a kernel call over every row, made up to three times a
        call for the action's column."""
        return Distinct.of_encoded(self._dictionary(path), derive)

    def _dictionary(self, path: str) -> pa.DictionaryArray:
        found = self._dictionaries.get(path)
        if found is None:
            found = self._dictionaries[path] = kernels.dictionary_encode(self.text(path))
        return found

    def _encoded(self, path: str) -> tuple[dict[str, int], np.ndarray]:
        found = self._encodings.get(path)
        if found is None:
            encoded = self._dictionary(path)
            index = {text: k for k, text in enumerate(encoded.dictionary.to_pylist())}
            codes = kernels.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
            found = self._encodings[path] = (index, codes)
        return found

    def result(self, cols: ColumnSet, wanting: Mapping[str, np.ndarray]) -> Columnar:
        """The rows not left, each field null at the rows `wanting` says do not want it."""
        left = self._left
        done = np.flatnonzero(~left)
        rows = None if len(done) == self.n else done
        batch = cols.batch(rows, _unwanted(wanting, rows))
        return Columnar(batch, done.tolist(), np.flatnonzero(left).tolist())


def _unwanted(wanting: Mapping[str, np.ndarray], rows: np.ndarray | None) -> dict[str, Kept]:
    """Per narrowed field, the rows of the batch (`rows` of the input, all when None) it
    keeps; fields sharing a mask share one `Kept` (and so its bitmaps)."""
    found: dict[int, Kept] = {}
    unwanted = {}
    for name, mask in wanting.items():
        kept = found.get(id(mask))
        if kept is None:
            kept = found[id(mask)] = Kept(~(mask if rows is None else mask[rows]))
        unwanted[name] = kept
    return unwanted


def _flags(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow mask as NumPy booleans, a null as false."""
    if mask.null_count:
        mask = kernels.fill_null(mask, False)
    flags: np.ndarray = mask.to_numpy(zero_copy_only=False)
    return flags


def _any(mask: pa.Array) -> bool:
    """Whether a mask holds a true: its count is kept with the array, where a kernel call
    costs a few microseconds, and a call of the columnar step makes dozens of such tests."""
    return bool(mask.true_count)


def _all(mask: pa.Array) -> bool:
    """Whether a mask holds no false (nulls aside, as `pc.all` skips them)."""
    return not mask.false_count


def _strings(array: pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else kernels.cast(array, pa.string())


_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")


@cache
def _null_text() -> pa.Scalar:
    # made on first use, not at import: pyarrow's first conversion of a Python value looks for
    # pandas, which a scan keeps out (see trailhound.arrow_setup)
    return pa.scalar(None, pa.string())


_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
# CloudTrail's own form, each part in its range, year 0001 on (a datetime's range)
_CANONICAL_TIME: Final = (
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)


def _event_times(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The times, and which rows are in the form both Arrow's cast and `parse_event_time` read
    alike; the others (nulls among the times) are left for the exact parser."""
    texts = _strings(texts)
    made = compiled_columns.event_times(texts)
    if made is not None:
        return made
    shaped = kernels.fill_null(kernels.match_substring_regex(texts, _CANONICAL_TIME), False)
    kept = texts if _all(shaped) else kernels.if_else(shaped, texts, _null_text())
    try:
        return kernels.cast(kept, _TIMESTAMP), shaped
    except pa.ArrowInvalid:  # a day its month lacks (30 February): find which, the slow way
        seconds = kernels.strptime(kept, format=_TIME_FORMAT, unit="s", error_is_null=True)
        # strptime carries such a day over into the next month: printed back, it differs
        printed = kernels.strftime(seconds, format=_TIME_FORMAT)
        real = kernels.fill_null(kernels.equal(printed, texts), False)
        return kernels.cast(seconds, _TIMESTAMP), kernels.and_(shaped, real)


# -- the fields ---------------------------------------------------------------------------------


def _event_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    cols.put("@timestamp", inputs.times)
    cols.constant("event.ingested", inputs.ingested)
    for name, path in (
        ("event.id", "eventID"),
        ("event.action", "eventName"),
        ("event.provider", "eventSource"),
        ("cloud.region", "awsRegion"),
    ):
        if cols.wants(name):
            cols.put(name, inputs.text(path))
    for name, value in CONSTANTS:
        cols.constant(name, value)
    if cols.wants("event.category", "event.type"):
        names = ("event.category", "event.type")
        cols.spread(names, inputs.distinct("eventName", categories))
    if cols.wants("cloud.service.name"):
        cols.spread(("cloud.service.name",), inputs.distinct("eventSource", service_name))


def _outcome(cols: ColumnSet, inputs: _Inputs) -> None:
    made = compiled_columns.outcome(inputs.raw("errorCode"), inputs.raw("errorMessage"))
    if made is None:
        codes, messages = inputs.text("errorCode"), inputs.text("errorMessage")
        failed = kernels.or_(kernels.is_valid(codes), kernels.is_valid(messages))
        made = kernels.if_else(failed, "failure", "success")
    cols.put("event.outcome", made)
    inputs.leave(inputs.action_is("ConsoleLogin"))  # its outcome is in its response


def _text_members(cols: ColumnSet, inputs: _Inputs) -> None:
    for name, member in TEXT_MEMBERS:
        if cols.wants(name):
            cols.put(name, inputs.text(member))


def _identity_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    for name, path in _IDENTITY_TEXTS:
        if cols.wants(name):
            cols.put(name, inputs.text(path))
    if cols.wants("user.id"):
        kind = inputs.text(_IDENTITY + "type")
        center = kernels.fill_null(kernels.equal(kind, "IdentityCenterUser"), False)
        on_behalf = kernels.if_else(center, inputs.text(_ON_BEHALF_OF + "userId"), _null_text())
        cols.put("user.id", kernels.coalesce(inputs.text(_IDENTITY + "principalId"), on_behalf))
    if cols.wants("service.name"):
        kind = inputs.text(_IDENTITY + "type")
        service = kernels.fill_null(kernels.equal(kind, "AWSService"), False)
        invoked_by = inputs.text(_IDENTITY + "invokedBy")
        cols.put("service.name", kernels.if_else(service, invoked_by, _null_text()))
    if cols.wants(_CREATION_DATE):
        texts = inputs.text(_ATTRIBUTES + "creationDate")
        cols.spread((_CREATION_DATE,), Distinct.of(texts, _creation_date))
    if cols.wants("cloud.account.id"):
        accounts = inputs.coalesced(_IDENTITY + "accountId", "recipientAccountId")
        cols.put("cloud.account.id", accounts)


def _creation_date(text: str | None) -> tuple[datetime | None]:
    return (parse_iso8601(text),)


def _user_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    """user.name and user.email as `ecs._user_fields` makes them from the identity alone."""
    names = inputs.coalesced(*_USER_NAMES)
    cols.put("user.name", names)
    if cols.wants("user.email"):
        kind = inputs.text(_IDENTITY + "type")
        sessions = pa.array(_SESSION_KINDS, pa.string())
        assumed = kernels.fill_null(kernels.is_in(kind, value_set=sessions), False)
        arns = kernels.if_else(assumed, inputs.text(_IDENTITY + "arn"), _null_text())
        by_session = Distinct.of(arns, _session_email).column(_first, pa.string())
        by_name = Distinct.of(names, _name_email).column(_first, pa.string())
        cols.put("user.email", kernels.coalesce(by_session, by_name))
    # Elastic takes a sign-in's user from its additional data when the identity names none
    inputs.leave(inputs.action_is("UserAuthentication"))


_SESSION_KINDS: Final = ("AssumedRole", "FederatedUser")


def _session_email(arn: str | None) -> tuple[str | None]:
    session = session_name("AssumedRole", arn)
    return (session if is_email(session) else None,)


def _name_email(name: str | None) -> tuple[str | None]:
    return (name if is_email(name) else None,)


def _first(values: tuple[Any, ...]) -> Any:
    return values[0]


def _source_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    addresses = inputs.text("sourceIPAddress")
    cols.put("source.address", addresses)
    if cols.wants(*ADDRESS_COLUMNS):
        derive = partial(address_values, inputs.enricher)
        cols.spread(ADDRESS_COLUMNS, Distinct.of(addresses, derive))


def _user_agent_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    derive = partial(user_agent_values, inputs.enricher)
    cols.spread(USER_AGENT_COLUMNS, Distinct.of(inputs.text("userAgent"), derive))


def _operations(cols: ColumnSet, inputs: _Inputs) -> None:
    """One operation per single-item DynamoDB call, a batch's or transaction's from its
    request's JSON, a statement's from its verb; the other calls read from their request are
    left."""
    calls = inputs.dynamodb
    actions = inputs.distinct("eventName", _operation_of)
    arrow_type = BY_NAME[operations.COLUMN].arrow_type
    per_action = pa.array([_first(values) for values in actions.values], arrow_type)
    unsure = kernels.and_(calls, actions.column(_second, pa.bool_()))
    overlays = [
        (rows, kernels.cast(read.operations, arrow_type)) for rows, read in inputs.batch_writes
    ]
    statements = inputs.statements
    if statements is not None:
        rows, elsewhere = statements
        verbs = Distinct.of(inputs.raw_at(_STATEMENT, rows), _statement_operations)
        overlays.append((rows, verbs.column(_first, arrow_type)))
        inputs.leave(elsewhere)
    found, read = _overlaid(per_action, actions.indices, calls, overlays)
    cols.put(operations.COLUMN, found)
    inputs.leave(kernels.and_(unsure, kernels.invert(read)))


def _statement_operations(statement: str | None) -> tuple[list[str] | None]:
    verb = operations.statement_operation(statement) if statement is not None else None
    return ([verb] if verb else None,)


def _overlaid(
    base: pa.Array, codes: pa.Array, kept: pa.Array, overlays: list[tuple[pa.Array, pa.Array]]
) -> tuple[pa.Array, pa.Array]:
    """`base` at `codes` where `kept` (a mask), null elsewhere, with the rows of each
    overlay's mask (kept rows, no two overlays sharing one) replaced by its values in order;
    and the rows replaced (a mask). One take for them all: a take per batch action took and
    copied the whole column each time."""
    positions = codes.to_numpy(zero_copy_only=False).astype(np.int64)
    nulled = ~kept.to_numpy(zero_copy_only=False)
    replaced = np.zeros(len(positions), np.bool_)
    parts, start = [base], len(base)
    for rows, values in overlays:
        at = rows.to_numpy(zero_copy_only=False)
        positions[at] = np.arange(start, start + len(values), dtype=np.int64)
        replaced |= at
        parts.append(values)
        start += len(values)
    taken = kernels.take(pa.concat_arrays(parts), arrow_array(positions, mask=nulled))
    return taken, arrow_array(replaced)


def _operation_of(action: str | None) -> tuple[list[str] | None, bool]:
    return operations.without_request(action), operations.reads_request(action)


def _second(values: tuple[Any, ...]) -> Any:
    return values[1]


# -- members read from raw paths ----------------------------------------------------------------

_TABLE_COLUMN: Final = "aws.dynamodb.table_name"
_BATCH_WRITE: Final = "BatchWriteItem"
_BATCH_GET: Final = "BatchGetItem"
# calls whose requests are parsed whole here: a transaction's items may name tables anywhere
_PARSED_ACTIONS: Final = ("TransactWriteItems", "TransactGetItems")


_STATEMENT_CALL: Final = "ExecuteStatement"
_RESPONSE_COLUMNS: Final = (
    "aws.cloudtrail.response_elements",
    "aws.cloudtrail.flattened.response_elements",
)
_DYNAMODB_SOURCES: Final = tuple(sorted(dynamodb.DYNAMODB_SOURCES))
_TABLE_SOURCES: Final = tuple(sorted(dynamodb.TABLE_SOURCES))
_KEYWORDS: Final = pa.list_(pa.string())
# RE2 finds a literal several times faster than Arrow's own substring search
_CONTEXT_KEY_TEXT: Final = re.escape(dynamodb.KMS_CONTEXT_KEY)


def _resource_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    resources = inputs.resources
    for position, name in enumerate(RESOURCE_COLUMNS):
        if cols.wants(name):
            cols.put(name, resources.column(partial(resource_list, position), _KEYWORDS))


def _response_fields(cols: ColumnSet, inputs: _Inputs) -> None:
    """Null for the rows without a response (their columns stay null); the others are left."""
    inputs.leave(kernels.is_valid(inputs.raw(RESPONSE)))


def _table_names(cols: ColumnSet, inputs: _Inputs) -> None:
    """The tables of DynamoDB's own calls and of the KMS calls made for a table, from
    `tableName`, the encryption context, a BatchWriteItem's items, a statement and `resources`,
    as `ecs._tables` reads them; Lambda and AWS Backup events name tables in ARNs only: their
    rows are left."""
    # a request's tables cost per byte of its JSON: only the rows wanting them are read
    wanting = inputs.wanting if inputs.wanting is not None else True
    named = inputs.among("eventSource", *_TABLE_SOURCES) & wanting
    if not named.any():
        return
    calls = inputs.among("eventSource", *_DYNAMODB_SOURCES) & wanting
    keys = inputs.among("eventSource", dynamodb.KMS_SOURCE) & wanting
    inputs.leave(named & ~(calls | keys))
    writes = inputs.batch_writes
    statements = inputs.statements
    read_whole = [*writes, *([statements] if statements else [])]
    written = _written(read_whole, inputs.n)
    found = _Named(inputs.n)
    plain = (calls | keys) & ~written
    if plain.any():
        _plain_tables(inputs, arrow_array(plain), arrow_array(keys), found)
    if writes:
        # their requests were read in full, but a response may describe a table too (only
        # these rows' responses are searched: the pattern's cost is per byte)
        inputs.leave(inputs.described(arrow_array(_written(writes, inputs.n) & wanting)))
        for rows, read in writes:
            found.put_each(kernels.indices_nonzero(rows), read.tables)
    if statements is not None:
        _statement_tables(inputs, *statements, found)
    cols.put(_TABLE_COLUMN, _with_resources(found, inputs.resources))


def _written(calls: Sequence[tuple[pa.Array, Any]], n: int) -> np.ndarray:
    """The rows of any of these calls' masks."""
    written = np.zeros(n, np.bool_)
    for rows, _ in calls:
        written |= rows.to_numpy(zero_copy_only=False)
    return written


class _Named:
    """Per row, the tables its request names, as a code into `values` (distinct tuples);
    -1 for the rows not read."""

    def __init__(self, n: int) -> None:
        self.codes = np.full(n, -1, np.int64)
        self._index: dict[tuple[str, ...], int] = {}

    @property
    def values(self) -> list[tuple[str, ...]]:
        return list(self._index)

    def put(self, rows: pa.Array, keys: pa.Array, named: Callable[[Any], tuple[str, ...]]) -> None:
        """At `rows` (indices), what `named` makes of each row's key, once per distinct key."""
        encoded = kernels.dictionary_encode(keys)
        distinct: list[Any] = [*encoded.dictionary.to_pylist(), None]
        codes = np.array([self._code(named(key)) for key in distinct], np.int64)
        at = kernels.fill_null(encoded.indices, len(distinct) - 1).to_numpy(zero_copy_only=False)
        self.codes[rows.to_numpy(zero_copy_only=False)] = codes[at]

    def put_each(self, rows: pa.Array, named: list[tuple[str, ...]]) -> None:
        index = self._index  # coded inline: a method call per row was half the loop's time
        codes = [index.setdefault(tables, len(index)) for tables in named]
        self.codes[rows.to_numpy(zero_copy_only=False)] = codes

    def _code(self, named: tuple[str, ...]) -> int:
        return self._index.setdefault(named, len(self._index))


def _with_resources(found: _Named, resources: Distinct[Resources | None]) -> pa.Array:
    """The table column: per row read, its request's tables then its resources', derived once
    per distinct pair; null for the rows not read."""
    rows = np.flatnonzero(found.codes >= 0)
    width = max(len(resources.values), 1)
    in_resources = resources.indices.to_numpy(zero_copy_only=False)[rows].astype(np.int64)
    pairs, inverse = distinct_codes(
        found.codes[rows] * width + in_resources, len(found.values) * width
    )
    named = found.values
    tables = [_tables_of(named[k // width], resources.values[k % width]) for k in pairs.tolist()]
    at = np.zeros(len(found.codes), np.int64)
    at[rows] = inverse
    codes = arrow_array(at, mask=found.codes < 0)
    return kernels.take(pa.array(tables, type=BY_NAME[_TABLE_COLUMN].arrow_type), codes)


def _plain_tables(inputs: _Inputs, plain: pa.Array, keys: pa.Array, found: _Named) -> None:
    """The request tables of the rows that name a table by `tableName` or the encryption
    context, into `found`; the rows that may name more are left."""
    by_name, by_context = inputs.raw(_TABLE_NAME), inputs.raw(_CONTEXT_TABLE)
    # their order is the request's
    both = kernels.and_(kernels.is_valid(by_name), kernels.is_valid(by_context))
    inputs.leave(kernels.and_(plain, both))
    inputs.leave(inputs.named_elsewhere(plain, READ_KEYS))
    read = plain
    if _any(keys):
        # `normalize` reads a KMS call's tables only when its request's JSON holds the context
        # key's text as such (`dynamodb.wants_tables`); the others have none
        # (only the KMS calls' requests are searched: the pattern's cost is per byte)
        read = arrow_array(_read_keys(plain, keys, _holding_context(inputs, keys)))
    rows = kernels.indices_nonzero(read)
    named = compiled_columns.coalesced([by_name, by_context], clean=False)
    named = kernels.coalesce(by_name, by_context) if named is None else named
    found.put(rows, kernels.take(named, rows), _one_name)


def _holding_context(inputs: _Inputs, keys: pa.Array) -> np.ndarray:
    """At the KMS calls' rows (the mask `keys`), whether the request's JSON holds the context
    key's text (no request holds none): read in place by the compiled maker, or searched by
    RE2 in the requests taken at those rows."""
    mask = keys.to_numpy(zero_copy_only=False)
    texts, places = inputs.raw_where(REQUEST, mask)
    found = compiled_columns.holding(texts, places, dynamodb.KMS_CONTEXT_KEY)
    if found is None:
        holds = kernels.match_substring_regex(inputs.raw_at(REQUEST, keys), _CONTEXT_KEY_TEXT)
        found = kernels.fill_null(holds, False).to_numpy(zero_copy_only=False)
    return found


def _read_keys(plain: pa.Array, keys: pa.Array, holds: np.ndarray) -> np.ndarray:
    """The plain rows, but of the KMS calls (the mask `keys`) only those whose request holds
    the context key (`holds`, at the KMS calls' rows): in NumPy, where scattering, filling and
    three logical kernels cost a call a tenth of its tables."""
    mask = keys.to_numpy(zero_copy_only=False)
    held = np.zeros(len(mask), np.bool_)
    held[mask] = holds
    found: np.ndarray = plain.to_numpy(zero_copy_only=False) & (~mask | held)
    return found


def _one_name(name: str | None) -> tuple[str, ...]:
    return (name,) if name else ()


def _statement_tables(inputs: _Inputs, rows: pa.Array, elsewhere: pa.Array, found: _Named) -> None:
    """A PartiQL call's tables are its statement's (then its resources')."""
    inputs.leave(elsewhere)
    found.put(kernels.indices_nonzero(rows), inputs.raw_at(_STATEMENT, rows), _statement_names)


def _statement_names(statement: str | None) -> tuple[str, ...]:
    return tuple(dynamodb.tables_in_statement(statement))


def _scattered(n: int, rows: pa.Array, values: pa.Array) -> pa.Array:
    """`values` at the rows of a mask, null elsewhere."""
    return kernels.replace_with_mask(pa.nulls(n, values.type), rows, values)


def _tables_of(named: tuple[str, ...], resources: Resources | None) -> list[str] | None:
    """`dynamodb.table_names`'s order: the request's tables, then the resources'."""
    found = dict.fromkeys(named)
    found.update(dict.fromkeys(tables_in_resources(resources)))
    return list(found) or None


# -- which fields, which filler -----------------------------------------------------------------

_FILLERS: Final[tuple[tuple[tuple[str, ...], Callable[[ColumnSet, _Inputs], None]], ...]] = (
    (("@timestamp", "event.ingested", "event.id", "event.action", "event.provider",
      "cloud.region", "event.category", "event.type", "cloud.service.name",
      *(name for name, _ in CONSTANTS)), _event_fields),
    (("event.outcome",), _outcome),
    (tuple(name for name, _ in TEXT_MEMBERS), _text_members),
    ((*(name for name, _ in _IDENTITY_TEXTS), "user.id", "service.name", _CREATION_DATE,
      "cloud.account.id"), _identity_fields),
    (("user.name", "user.email"), _user_fields),
    (("source.address", *ADDRESS_COLUMNS), _source_fields),
    (USER_AGENT_COLUMNS, _user_agent_fields),
    ((operations.COLUMN,), _operations),
    (RESOURCE_COLUMNS, _resource_fields),
    (_RESPONSE_COLUMNS, _response_fields),
    ((_TABLE_COLUMN,), _table_names),
)  # fmt: skip


__all__ = [
    "PATHS",
    "RAW_PATHS",
    "Columnar",
    "normalized_columns",
    "paths_for",
    "supported",
    "takes",
]
