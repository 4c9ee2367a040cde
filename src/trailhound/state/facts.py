"""correlation memory: per rule, the facts its fact sources taught (a KMS key ARN -> a table)
and when each was first and last seen, forgotten once unseen for longer than the rule
remembers."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from trailhound.state.store import Store

Fact = tuple[str, str, str, int, int]  # key, value field, value, first seen, last seen


def known(store: Store, rule_id: str, keys: Iterable[str]) -> list[Fact]:
    """The stored facts about these keys."""
    wanted = pa.table({"fact_key": pa.array(sorted(set(keys)), pa.string())})
    with store.registered("_fact_keys", wanted):
        rows = store.con.execute(
            "SELECT f.fact_key, f.value_field, f.fact_value, f.first_seen, f.last_seen "
            "FROM facts f JOIN _fact_keys USING (fact_key) WHERE f.rule_id = $rule",
            {"rule": rule_id},
        ).fetchall()
    return [(k, field, v, int(first), int(last)) for k, field, v, first, last in rows]


def remember(store: Store, rule_id: str, sightings: list[tuple[str, str, str, int]],
             forget: int) -> None:  # fmt: skip
    """Merge sightings (key, value field, value, time) into the rule's facts, then forget
    facts unseen for longer than `forget` (µs) before the newest sighting."""
    if sightings:
        keys, fields, values, times = (list(c) for c in zip(*sightings, strict=True))
        table = pa.table(
            {
                "fact_key": pa.array(keys, pa.string()),
                "value_field": pa.array(fields, pa.string()),
                "fact_value": pa.array(values, pa.string()),
                "ts": pa.array(times, pa.int64()),
            }
        )
        with store.registered("_sightings", table):
            store.con.execute(
                "INSERT INTO facts SELECT $rule, fact_key, value_field, fact_value, min(ts), "
                "max(ts) FROM _sightings GROUP BY fact_key, value_field, fact_value "
                "ON CONFLICT (rule_id, fact_key, value_field, fact_value) DO UPDATE SET "
                "first_seen = least(first_seen, excluded.first_seen), "
                "last_seen = greatest(last_seen, excluded.last_seen)",
                {"rule": rule_id},
            )
    store.con.execute(
        "DELETE FROM facts WHERE rule_id = $rule AND last_seen < "
        "(SELECT max(last_seen) FROM facts WHERE rule_id = $rule) - $forget",
        {"rule": rule_id, "forget": forget},
    )
