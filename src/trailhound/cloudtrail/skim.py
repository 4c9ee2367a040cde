"""A CloudTrail records file read straight into columns: record spans and chosen members' text.

Decoding every record into a `Record` and normalizing it in Python costs most of a worker's
time, while the rules read a dozen members of a fraction of the records. A skimmer takes the
whole inflated text of a `{"Records": [...]}` file and gives, per record, where it lies in the
text and the string values at a few member paths, as Arrow columns, with no Python object per
record.

A skimmer answers only for files it can read exactly; anything else gives None, and the caller
reads the file the usual way (msgspec and `normalize`), which reports every problem as always.
When it answers, `decode_records_file(text)` succeeds, `decode_record(text[starts[i]:ends[i]])`
is the file's i-th record, and `columns[path][i]` is the value at `path` in that record.

A path may also be a keys path (`keys_path(path, keys)`): its column says which of `keys` the
value at `path` holds as object keys, at any depth, so that a caller need not read that
member's JSON text again only to learn whether some key is in it.

A skimmer may also be given an `Admission`: then only the records it admits (by their
eventSource and eventName) have every path read; at the others, the paths it does not read
always are null, and the answer names the admitted records (`Skimmed.picked`), so that a caller
that reads those paths only at the records it picks need not pick them again, nor have every
value of every record copied out.

`skim_reference.reference_skimmer` is the definition, in plain Python and slow;
`compiled_skimmer` is the fast one, built from `_skim.c` when a compiler was at hand, held to
the reference by tests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np
import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import compiled_columns, extensions
from trailhound.numpy_arrow import arrow_array

MAX_DEPTH: Final = 64
"""Nesting a record may have (its own object is level 1); deeper files are read the usual way."""

REQUIRED_TEXT: Final = ("eventTime", "eventName")
OPTIONAL_TEXT: Final = (
    "eventVersion", "eventSource", "awsRegion", "sourceIPAddress", "userAgent", "errorCode",
    "errorMessage", "requestID", "eventID", "eventType", "eventCategory", "apiVersion",
    "recipientAccountId", "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId",
)  # fmt: skip
TEXT_OR_BOOL: Final = ("readOnly", "managementEvent", "sessionCredentialFromConsole")
"""The members `Record` types, by what they may hold: a file whose record breaks this is read
the usual way, which sets that record aside with its reason."""

MAX_INT_DIGITS: Final = 19
MAX_EXP_DIGITS: Final = 2
"""Numbers beyond RFC 8259's grammar that a skimmer refuses: msgspec refuses those out of a
double's range and very long integers, and digit counts bound those cheaply (1e118 at most)."""


def keys_path(path: str, keys: Collection[str]) -> str:
    """The name of a keys column: per record, those of `keys` that the value at `path` holds as
    object keys at any depth within it (keys compared after unescaping), in sorted order and
    joined by ","; null where it holds none (or the value is absent, null, or neither an object
    nor an array). The objects `path` passes through obey a text path's rules; no keys path
    may pass through another's."""
    ordered = sorted(set(keys))
    if not ordered or len(ordered) > MAX_KEYS or any(not k or "," in k for k in ordered):
        raise ValueError(f"a keys path has 1 to {MAX_KEYS} keys, non-empty, without ',': {keys}")
    return f"{path}.{{{','.join(ordered)}}}"


MAX_KEYS: Final = 64
"""Keys a keys path may look for (the compiled skimmer keeps the found ones in 64 bits)."""


def keyed_path(name: str) -> tuple[str, tuple[str, ...]] | None:
    """The (path, keys) a keys path's name stands for; None for a member path."""
    at = name.find(".{")
    if at < 0 or not name.endswith("}"):
        return None
    path, keys = name[:at], tuple(name[at + 2 : -1].split(","))
    if keys_path(path, keys) != name:
        raise ValueError(f"a keys path's keys are sorted, each once: {name}")
    return path, keys


PROVIDER_PATH: Final = "eventSource"
ACTION_PATH: Final = "eventName"
"""The members an `Admission` judges a record by."""


class Admission(Struct, frozen=True):
    """Which records a skimmer reads every path of: those whose provider (`PROVIDER_PATH`) is
    one of `providers`, whose action (`ACTION_PATH`) is one of `actions`, or whose (provider,
    action) is one of `pairs`; an absent or null one matches none. Every record has its
    `always` paths read (and the provider's and action's)."""

    always: frozenset[str]
    providers: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    pairs: frozenset[tuple[str, str]] = frozenset()

    def admits(self, provider: str | None, action: str | None) -> bool:
        return (
            provider in self.providers
            or action in self.actions
            or (provider is not None and action is not None and (provider, action) in self.pairs)
        )

    def reads(self, path: str) -> bool:
        """Whether `path` is read at every record."""
        return path in self.always or path in (PROVIDER_PATH, ACTION_PATH)


class Block(Struct, frozen=True):
    """Every path's values in one array: `len(names)` runs of `rows` values, one per record
    of the files skimmed together (one file, or many in one call), path by path; and their
    `spans`, where set: the `rows` starts, then the `rows` ends."""

    values: pa.Array
    names: tuple[str, ...]
    rows: int
    spans: pa.Array | None = None
    picked: np.ndarray | None = None
    """The rows an `Admission` admitted (int64, in order); None: every row read in full."""


class Skimmed(Struct, frozen=True):
    """Record spans in the text (`starts` at "{", `ends` one past "}"), and per path one
    string value per record, null where the path is absent or its value is JSON null.
    `block`, where set, holds the same values as one array, this file's records at `first`
    onwards in each path's run (what `picked_columns` takes from without making a column
    per file); files skimmed in one call share it. `picked`, where set, is the rows (in
    order, int64) the skimmer's `Admission` admitted, the only ones whose paths it does not
    always read hold their values; None where every row has every path read."""

    starts: pa.Array
    ends: pa.Array
    columns: Mapping[str, pa.Array]
    block: Block | None = None
    first: int = 0
    picked: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)


def picked_columns(
    files: Sequence[Skimmed], taken: Sequence[int] | np.ndarray, paths: Sequence[str]
) -> Mapping[str, pa.Array]:
    """The values at `paths` of the rows `taken` (row numbers over the files one after the
    other), one column per path: taken from the files' blocks where they all have one alike
    (`PickedColumns`, which takes a path's values only when asked), else from the files'
    columns at once."""
    blocks = [f.block for f in files]
    first = blocks[0] if blocks else None
    if first is None or any(b is None or b.names != first.names for b in blocks):
        rows = pa.array(taken, pa.int64())
        return {
            p: kernels.take(pa.concat_arrays([f.columns[p] for f in files]), rows) for p in paths
        }
    # one array to take from, each block in it once (files skimmed together share one): a
    # chunked array resolves every index's chunk, which costs several times the copy
    placed: dict[int, int] = {}  # a block (by identity, while `files` holds it): its place
    arrays: list[pa.Array] = []
    bases, strides = np.empty(len(files), np.int64), np.empty(len(files), np.int64)
    size = 0
    for k, (file, block) in enumerate(zip(files, blocks, strict=True)):
        assert block is not None
        at = placed.get(id(block))
        if at is None:
            at = placed[id(block)] = size
            arrays.append(block.values)
            size += len(block.values)
        bases[k], strides[k] = at + file.first, block.rows
    sizes = np.array([len(f) for f in files], np.int64)
    firsts = np.cumsum(sizes) - sizes
    wanted = np.asarray(taken, np.int64)
    file_of = np.searchsorted(firsts, wanted, side="right") - 1
    row = bases[file_of] + wanted - firsts[file_of]
    runs = {name: k for k, name in enumerate(first.names)}
    return PickedColumns(
        pa.concat_arrays(arrays), row, strides[file_of], {p: runs[p] for p in paths}
    )


class PickedColumns(Mapping[str, pa.Array]):
    """Picked rows' values at some paths, as one array of skimmed blocks and, per row, where
    its first path's value lies and how far apart its paths' values are. A path's column is
    taken when first asked for; `at_rows` takes several paths at some of the rows in one call.
    A normalizer reads most paths only for the rows its columnar step is offered: taking
    every path at every picked row first copied the same values twice."""

    __slots__ = ("_made", "_row", "_runs", "_stride", "_values")

    def __init__(
        self, values: pa.Array, row: np.ndarray, stride: np.ndarray, runs: dict[str, int]
    ) -> None:
        self._values, self._row, self._stride, self._runs = values, row, stride, runs
        self._made: dict[str, pa.Array] = {}

    def __getitem__(self, path: str) -> pa.Array:
        made = self._made.get(path)
        if made is None:
            at = self._row + self._runs[path] * self._stride
            made = self._made[path] = _taken(self._values, at)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def at_rows(
        self, paths: Sequence[str], rows: Sequence[int] | np.ndarray
    ) -> dict[str, pa.Array]:
        """The columns of `paths` at `rows` (positions among the picked rows), as
        `{p: self[p].take(rows)}` gives them: every path in one take, then cut per path (a
        kernel call per path cost a tenth)."""
        at = np.asarray(rows, np.int64)
        row, stride = self._row[at], self._stride[at]
        runs = np.array([self._runs[p] for p in paths], np.int64)
        got = _taken(self._values, (row + runs[:, np.newaxis] * stride).ravel())
        n = len(at)
        return {p: got.slice(k * n, n) for k, p in enumerate(paths)}

    def where(self, path: str, rows: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """The array holding the path's values and each of these rows' place in it: read in
        place, where a take copies (a request's text is long, and a reader of the whole array
        at positions needs no copy)."""
        at = np.asarray(rows, np.int64)
        found: np.ndarray = self._row[at] + self._runs[path] * self._stride[at]
        return self._values, found

    def part(self, start: int, stop: int) -> PickedColumns:
        """The picked rows from `start` to `stop`."""
        return PickedColumns(
            self._values, self._row[start:stop], self._stride[start:stop], self._runs
        )


def _taken(values: pa.Array, at: np.ndarray) -> pa.Array:
    """`values.take(at)`: by the compiled maker where it is built (it reads each row's offsets
    once, then copies the values in order; ~25% under Arrow's take on a worker's calls)."""
    got = compiled_columns.taken(values, at)
    return kernels.take(values, arrow_array(at)) if got is None else got


def joined(files: Sequence[Skimmed]) -> Skimmed:
    """The rows of `files`, one file's after another's, as one `Skimmed`: a view of their
    block where, skimmed in one call, they fill it in order (no copy); else their spans and
    columns put together."""
    if len(files) == 1:
        return files[0]
    block = files[0].block if files else None
    if block is not None and block.spans is not None and _fill(files, block):
        rows, spans = block.rows, block.spans
        at = {name: k for k, name in enumerate(block.names)}
        view = _Slices(block.values, rows, 0, rows, at)
        starts, ends = spans.slice(0, rows), spans.slice(rows, rows)
        return Skimmed(starts, ends, view, block, 0, block.picked)
    empty = pa.array([], pa.int64())
    starts = pa.concat_arrays([empty, *(f.starts for f in files)])
    ends = pa.concat_arrays([empty, *(f.ends for f in files)])
    paths = files[0].columns if files else {}
    columns = {p: pa.concat_arrays([f.columns[p] for f in files]) for p in paths}
    return Skimmed(starts, ends, columns, picked=_joined_picks(files))


def _joined_picks(files: Sequence[Skimmed]) -> np.ndarray | None:
    """The files' picked rows, numbered over the files one after another; None unless every
    file has them."""
    picks: list[np.ndarray] = []
    first = 0
    for file in files:
        if file.picked is None:
            return None
        picks.append(file.picked + first)
        first += len(file)
    return np.concatenate(picks) if picks else np.empty(0, np.int64)


def _fill(files: Sequence[Skimmed], block: Block) -> bool:
    """Whether `files` are the rows of `block`, in order, and nothing else."""
    first = 0
    for file in files:
        if file.block is not block or file.first != first:
            return False
        first += len(file)
    return first == block.rows


def skimmed_all(skimmer: Skimmer, texts: Sequence[bytes]) -> list[Skimmed | None]:
    """What `skimmer` answers for each text: in one call where it can take many (the
    compiled one's `many`), else text by text."""
    many: Callable[[Sequence[bytes]], list[Skimmed | None]] | None
    many = getattr(skimmer, "many", None)
    return many(texts) if many is not None else [skimmer(text) for text in texts]


class Together:
    """What a skimmer answers for texts given together: each text's rows (`counts`, -1 where
    it refused the text), and the answered texts' rows one after another as one `Skimmed`;
    each text's own answer is made when asked for (a reader that takes the texts as one
    never asks)."""

    __slots__ = ("_answers", "counts", "skimmed")

    def __init__(
        self, counts: list[int], skimmed: Skimmed, answers: list[Skimmed | None] | None = None
    ) -> None:
        self.counts, self.skimmed, self._answers = counts, skimmed, answers

    def answers(self) -> list[Skimmed | None]:
        """Each text's answer, as the skimmer gives it for that text alone."""
        if self._answers is None:
            self._answers = _each(self.skimmed, self.counts)
        return self._answers


def skimmed_together(skimmer: Skimmer, texts: Sequence[bytes]) -> Together:
    """What `skimmer` answers for these texts, together: from one call and one block where it
    can (the compiled one's `together`), else put together from `skimmed_all`'s answers."""
    together: Callable[[Sequence[bytes]], Together | None] | None
    together = getattr(skimmer, "together", None)
    got: Together | None = None if together is None else together(texts)
    if got is not None:
        return got
    answers = skimmed_all(skimmer, texts)
    counts = [-1 if a is None else len(a) for a in answers]
    return Together(counts, joined([a for a in answers if a is not None]), answers)


def _each(skimmed: Skimmed, counts: list[int]) -> list[Skimmed | None]:
    """Each text's answer out of the texts' rows together (`skimmed`, a view of its block)."""
    block = skimmed.block
    assert block is not None and block.spans is not None
    at = {name: k for k, name in enumerate(block.names)}
    every, spans, rows = block.picked, block.spans, block.rows
    bounds = _bounds(every, [max(n, 0) for n in counts])
    out: list[Skimmed | None] = []
    first = 0
    for k, n in enumerate(counts):
        if n < 0:
            out.append(None)
            continue
        picked = None if every is None else every[bounds[k] : bounds[k + 1]] - first
        starts, ends = spans.slice(first, n), spans.slice(rows + first, n)
        columns = _Slices(block.values, rows, first, n, at)
        out.append(Skimmed(starts, ends, columns, block, first, picked))
        first += n
    return out


class Skimmer(Protocol):
    def __call__(self, text: bytes) -> Skimmed | None: ...


class MakeSkimmer(Protocol):
    """A skimmer's maker (`compiled_skimmer`, `skim_reference.reference_skimmer`)."""

    def __call__(
        self, paths: Sequence[str], raw: Collection[str] = (), admission: Admission | None = None
    ) -> Skimmer | None: ...


def compiled_skimmer(
    paths: Sequence[str], raw: Collection[str] = (), admission: Admission | None = None
) -> Skimmer | None:
    """The compiled skimmer for these paths, or None when the extension was not built.

    The columns of the `raw` paths (none of them in `paths`) hold each value's JSON text
    exactly as it stands in the file, whatever its type (`{"a": 1}`, `[...]`, `"x\\n"`, `3`),
    null where the path is absent or its value is JSON null; the objects such a path passes
    through obey the same rules as a string path's (objects or null, no duplicate key)."""
    raws = raw_paths(paths, raw)
    _skim = extensions.loaded("_skim")
    if _skim is None:
        return None
    names, keyed = split_keyed(paths)
    admission_paths(names, admission)
    keys = tuple((split_paths([path])[0], found) for path, found in keyed.values())
    select = None if admission is None else _gate(admission, [*names, *raws, *keyed])
    # the answer's buffers from pyarrow's pool, which keeps freed memory for the next call
    made = _skim.Skimmer(
        split_paths(names), split_paths(raws), pa.allocate_buffer, keyed=keys, select=select
    )
    return _Compiled(names, raws, list(keyed), made, admission)


def _gate(admission: Admission, columns: list[str]) -> tuple[Any, ...]:
    """The extension's `select` for an admission over these columns (in its order)."""
    at = {name: k for k, name in enumerate(columns)}
    always = tuple(k for k, name in enumerate(columns) if admission.reads(name))
    return (
        always, at[PROVIDER_PATH], at[ACTION_PATH], tuple(sorted(admission.providers)),
        tuple(sorted(admission.actions)), tuple(sorted(admission.pairs)),
    )  # fmt: skip


def admission_paths(text: Collection[str], admission: Admission | None) -> None:
    """Checks that an admission's provider and action are among a skimmer's text paths."""
    if admission is not None and not {PROVIDER_PATH, ACTION_PATH} <= set(text):
        raise ValueError(f"an admission reads {PROVIDER_PATH} and {ACTION_PATH} as text paths")


class _Compiled:
    """The extension's answer as Arrow arrays over the buffers it filled, copied no further:
    one array of the spans and one of every column's values, sliced when a column is asked
    for (an Arrow array made costs more than a slice, and a file may hold only a few dozen
    records, of which a stage reads a handful of columns per file)."""

    __slots__ = ("_admission", "_at", "_keyed", "_names", "_raw", "_skim", "_text")

    def __init__(
        self, names: list[str], raw: list[str], keyed: list[str], skim: Any,
        admission: Admission | None = None,
    ) -> None:  # fmt: skip
        # the extension's columns: the text paths', the raw paths', the keys paths'
        self._names = (*names, *raw, *keyed)
        self._text, self._raw, self._keyed = names, raw, keyed
        self._skim, self._admission = skim, admission
        self._at = {name: k for k, name in enumerate(self._names)}

    def __reduce__(self) -> tuple[Any, tuple[list[str], list[str], Admission | None]]:
        # a worker process builds its own
        return compiled_skimmer, ([*self._text, *self._keyed], self._raw, self._admission)

    def __call__(self, text: bytes) -> Skimmed | None:
        got = self._skim(text)
        if got is None:
            return None
        spans, block = self._arrays(got)
        return self._skimmed(spans, block, 0, block.rows, block.picked)

    def many(self, texts: Sequence[bytes]) -> list[Skimmed | None]:
        """Each text's answer, as `self(text)` gives it, from one call and one set of arrays:
        a file of a few dozen records costs less than the Arrow objects made per call."""
        together = self.together(texts)
        if together is None:  # more values than one string array holds: one call a text
            return [self(text) for text in texts]
        return together.answers()

    def together(self, texts: Sequence[bytes]) -> Together | None:
        """The texts' answers from one call, as one; None where they are too many values for
        one string array."""
        got = self._skim.many(texts)
        if got is None:
            return None
        counts, answer = got
        spans, block = self._arrays(answer)
        return Together(list(counts), self._skimmed(spans, block, 0, block.rows, block.picked))

    def _arrays(self, got: Any) -> tuple[pa.Array, Block]:
        n, spans, (valid, offsets, data, nulls), picks = got
        both = pa.Array.from_buffers(pa.int64(), 2 * n, [None, spans], 0)
        values = pa.StringArray.from_buffers(n * len(self._names), offsets, data, valid, nulls)
        picked = None if picks is None else np.frombuffer(picks, np.int64)
        return both, Block(values, self._names, n, both, picked)

    def _skimmed(
        self, spans: pa.Array, block: Block, first: int, n: int, picked: np.ndarray | None
    ) -> Skimmed:
        starts, ends = spans.slice(first, n), spans.slice(block.rows + first, n)
        columns = _Slices(block.values, block.rows, first, n, self._at)
        return Skimmed(starts, ends, columns, block, first, picked)


def _bounds(picked: np.ndarray | None, sizes: list[int]) -> list[int]:
    """Where each text's rows begin and end among the picked rows of a call: texts of these
    sizes one after another (none without picked rows)."""
    if picked is None:
        return []
    ends = np.cumsum(np.array([0, *sizes], np.int64))
    return np.searchsorted(picked, ends).tolist()  # type: ignore[no-any-return]


class _Slices(Mapping[str, pa.Array]):
    """A file's columns out of its block, each sliced out the first time it is asked for."""

    __slots__ = ("_at", "_first", "_made", "_n", "_rows", "_values")

    def __init__(self, values: pa.Array, rows: int, first: int, n: int, at: dict[str, int]) -> None:
        self._values, self._rows, self._first, self._n, self._at = values, rows, first, n, at
        self._made: dict[str, pa.Array] = {}

    def __getitem__(self, name: str) -> pa.Array:
        made = self._made.get(name)
        if made is None:
            at = self._at[name] * self._rows + self._first
            made = self._made[name] = self._values.slice(at, self._n)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


def raw_paths(paths: Sequence[str], raw: Collection[str]) -> list[str]:
    """`raw`, in a fixed order, checked to share no path with `paths` and to hold no keys
    path."""
    both = set(paths).intersection(raw)
    if both:
        raise ValueError(f"a path is asked for both as text and raw: {sorted(both)}")
    if any(keyed_path(p) is not None for p in raw):
        raise ValueError(f"a keys path is asked for as raw: {sorted(raw)}")
    return sorted(raw)


def split_keyed(
    paths: Sequence[str],
) -> tuple[list[str], dict[str, tuple[str, tuple[str, ...]]]]:
    """`paths` without repeats: the member paths, and the keys paths by name with what each
    stands for (`keyed_path`), each in the order given."""
    names: list[str] = []
    keyed: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name in dict.fromkeys(paths):
        found = keyed_path(name)
        if found is None:
            names.append(name)
        else:
            keyed[name] = found
    parts = [tuple(path.split(".")) for path, _ in keyed.values()]
    for k, one in enumerate(parts):
        if any(other[: len(one)] == one for other in parts[:k] + parts[k + 1 :]):
            raise ValueError(f"a keys path meets another: {list(keyed)}")
    return names, keyed


def split_paths(paths: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    split = tuple(tuple(p.split(".")) for p in paths)
    if any(not all(split_path) for split_path in split):
        raise ValueError(f"a member path has an empty name: {list(paths)}")
    return split
