"""Matched rows as the scanning process stores them (`state.matches.append`), with the text
columns a worker sends as dictionaries coded as it codes them."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from trailhound.state import counted

Row = tuple[int, str, str | None, str | None]  # seq, rule id, account, event id


def matched_table(
    rows: Sequence[Row],
    *,
    coded: bool,
    actions: Sequence[str] | None = None,
    ts_step: int = 1,
) -> pa.Table:
    """The rows as a table of one step, each row's time `ts_step` times its seq; `coded`: the
    rule, account (and `actions`, as `event.action`) as dictionaries, as a worker sends them,
    else plain text, as a stage run in the scanning process makes them."""
    seq, rule, account, event = (list(c) for c in zip(*rows, strict=True))

    def text(values: Sequence[str | None]) -> pa.Array:
        plain = pa.array(values, pa.string())
        return pc.dictionary_encode(plain) if coded else plain

    columns = {
        "rule_id": text(rule),
        "step": pa.array([0] * len(rows), pa.int32()),
        counted.ACCOUNT: text(account),
        counted.EVENT_ID: pa.array(event, pa.string()),
    }
    if actions is not None:
        columns["event.action"] = text(actions)
    columns["ts"] = pa.array([ts_step * s for s in seq], pa.int64())
    columns["seq"] = pa.array(seq, pa.int64())
    return pa.table(columns)
