"""Which matched rows could ever be an alert's evidence, judged from one batch alone.

Keeping a row's whole record costs far more than keeping the few columns its rule reads, so
the stage keeps records only for rows that may still become evidence. Most rows of a new_terms
rule cannot: a row whose term already occurred in the same batch, no longer than the history
window before it, has a predecessor at least that close in any larger input, so its term is
never new. Every other rule type may show any of its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail.schema import BY_NAME, Kind
from trailhound.engine.filtering import ITEM, RULE_ID, TS
from trailhound.rules.model import NewTermsSpec, Rule

_SINGLE_VALUED = (Kind.KEYWORD, Kind.IP)


@dataclass(frozen=True, slots=True)
class _Terms:
    fields: tuple[str, ...]
    history: int  # µs


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Per rule id, how to tell rows that can never be evidence; rules not named keep all."""

    terms: dict[str, _Terms]

    @classmethod
    def build(cls, rules: Sequence[Rule]) -> Eligibility:
        terms = {
            rule.rule_id: _Terms(rule.spec.fields, rule.spec.history_window // _US)
            for rule in rules
            if rule.enabled
            and isinstance(rule.spec, NewTermsSpec)
            and all(f in BY_NAME and BY_NAME[f].kind in _SINGLE_VALUED for f in rule.spec.fields)
        }
        return cls(terms)

    def mask(self, matched: pa.Table) -> pa.Array:
        """True for the rows of `matched` that may become evidence."""
        keep = np.ones(matched.num_rows, dtype=bool)
        for rule_id, spec in self.terms.items():
            mine = pc.equal(matched.column(RULE_ID), rule_id)
            rows = np.flatnonzero(pc.fill_null(mine, False).to_numpy(zero_copy_only=False))
            keep[_dominated(matched, rows.tolist(), spec)] = False
        return pa.array(keep)


_US = timedelta(microseconds=1)


def _dominated(matched: pa.Table, rows: list[int], spec: _Terms) -> list[int]:
    """Rows whose term occurred at most `history` earlier in the batch, or that have no term."""
    if not rows:
        return []
    part = matched.take(pa.array(rows, pa.int64()))
    keys = [part.column(f) for f in spec.fields]
    missing = np.zeros(len(rows), dtype=bool)
    for key in keys:
        missing |= pc.is_null(key).to_numpy(zero_copy_only=False)
    # the order the new_terms evaluator reads rows in: term, time, event id, insertion order
    term = _codes(keys)
    table = pa.table({"term": term, "ts": part.column(TS), "id": part.column("event.id"),
                      "item": part.column(ITEM)})  # fmt: skip
    # nulls sort last, as in DuckDB
    order = pc.sort_indices(
        table,
        sort_keys=[("term", "ascending"), ("ts", "ascending"), ("id", "ascending"),
                   ("item", "ascending")],
    ).to_numpy()  # fmt: skip
    terms = term.to_numpy()[order]
    ts = table.column("ts").to_numpy()[order]
    covered = np.zeros(len(rows), dtype=bool)
    covered[1:] = (terms[1:] == terms[:-1]) & (ts[1:] - ts[:-1] <= spec.history)
    dominated = np.zeros(len(rows), dtype=bool)
    dominated[order] = covered
    dominated |= missing
    found: list[int] = np.asarray(rows)[dominated].tolist()
    return found


def _codes(columns: list[pa.ChunkedArray]) -> pa.Array:
    """One integer per distinct combination of the columns' values."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        encoded = column.combine_chunks().dictionary_encode()
        count = len(encoded.dictionary)
        codes = pc.fill_null(encoded.indices, count).to_numpy(zero_copy_only=False)
        key = key * (count + 1) + codes.astype(np.int64)
        _, key = np.unique(key, return_inverse=True)
    return pa.array(key, pa.int64())
