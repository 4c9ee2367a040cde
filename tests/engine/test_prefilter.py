"""What the rules can read, worked out before reading: the events worth normalizing and the
columns worth building. Skipping is only safe if nothing a rule matches is ever skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import fuzz
from support.rules import match, rule
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan, Matcher
from trailhound.engine.prefilter import Selection, column_plan, selection
from trailhound.rules import kql_ast as k
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources.files import open_local
from trailhound.state.store import Store

DYNAMODB = "dynamodb.amazonaws.com"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def shipped() -> list:  # type: ignore[type-arg]
    return load_rules([shipped_pack_dir()]).rules


def test_the_shipped_pack_reads_dynamodb_events_only() -> None:
    chosen = selection(shipped())
    assert chosen.admits(DYNAMODB, "GetItem")
    assert chosen.admits(DYNAMODB, "SomeCallNoRuleNames")  # new country: any DynamoDB call
    assert not chosen.admits("s3.amazonaws.com", "GetObject")
    assert not chosen.admits(None, None)


def test_a_rule_that_names_actions_only_selects_those_actions() -> None:
    deletes = rule(
        k.And((match("event.provider", DYNAMODB),
               k.Or((match("event.action", "DeleteTable"), match("event.action", "DeleteBackup")))))
    )  # fmt: skip
    chosen = selection([deletes])
    assert chosen.admits(DYNAMODB, "DeleteTable") and chosen.admits(DYNAMODB, "DeleteBackup")
    assert not chosen.admits(DYNAMODB, "GetItem")
    assert not chosen.admits("kms.amazonaws.com", "DeleteTable")


def test_an_unconstrained_branch_or_a_negation_selects_everything() -> None:
    either = rule(k.Or((match("event.action", "DeleteTable"), match("user.name", "alice"))))
    negated = rule(k.Not(match("event.provider", "s3.amazonaws.com")))
    assert selection([either]).everything
    assert selection([negated]).everything


def test_contradicting_conditions_select_nothing_and_disabled_rules_do_not_count() -> None:
    never = rule(k.And((match("event.action", "A"), match("event.action", "B"))))
    off = rule(match("user.name", "x"), enabled=False)
    chosen = selection([never, off])
    assert not chosen.everything
    assert not chosen.admits(DYNAMODB, "A")


def test_costly_columns_are_built_only_for_the_calls_whose_rules_read_them() -> None:
    plan = column_plan(shipped())
    batch_write = plan.columns_for(DYNAMODB, "BatchWriteItem")
    get_item = plan.columns_for(DYNAMODB, "GetItem")
    # item rules read aws.dynamodb.operations: a batch's costly Java-map text is not built
    assert "aws.dynamodb.operations" in batch_write
    assert "aws.cloudtrail.request_parameters" not in batch_write
    assert "aws.cloudtrail.request_parameters" not in get_item
    assert "aws.cloudtrail.flattened.request_parameters" in plan.columns_for(
        DYNAMODB, "UpdateTable"
    )
    assert {"@timestamp", "event.id", "cloud.account.id", "user.name"} <= get_item


def test_no_event_a_rule_matches_is_skipped_or_misses_a_column(shared_data: Path) -> None:
    """Over the real records and the Elastic conformance records: normalize everything, run
    every shipped rule; each matched event is admitted, and matches the same with only the
    columns the plan builds for it."""
    rules = shipped()
    report = Report()
    sources = [open_local(str(shared_data / d)) for d in ("dynamodb-real", "ecs-conformance")]
    full = pa.Table.from_batches(
        list(read_events(sources, enricher=Enricher.create(), report=report))
    ).combine_chunks().to_batches()[0]  # fmt: skip
    plan = FilterPlan.build(rules, now=NOW)
    store = Store.open(None)
    everything = Matcher(plan, store.con).match(full, keep=["event.id"])
    assert everything is not None and everything.num_rows > 40
    chosen, columns = selection(rules), column_plan(rules)
    providers = full.column("event.provider").to_pylist()
    actions = full.column("event.action").to_pylist()
    for row in set(everything.column("evidence_item").to_pylist()):
        assert chosen.admits(providers[row], actions[row])
    # the same rows, each built with only its columns, match the same rules
    partial = pa.RecordBatch.from_pylist(
        [
            {name: (value if name in columns.columns_for(providers[i], actions[i]) else None)
             for name, value in row.items()}
            for i, row in enumerate(full.to_pylist())
        ],
        schema=full.schema,
    )  # fmt: skip
    thin = Matcher(plan, store.con).match(partial, keep=["event.id"])
    assert thin is not None
    assert _pairs(thin) == _pairs(everything)


def _pairs(table: pa.Table) -> set[tuple[str, int]]:
    ids = table.column("rule_id").to_pylist()
    rows = pc.cast(table.column("evidence_item"), pa.int64()).to_pylist()
    return set(zip(ids, rows, strict=True))


def test_normalize_with_fields_leaves_the_rest_null(shared_data: Path) -> None:
    # the partial normalization the plan relies on: asked-for columns equal the full ones
    from trailhound.cloudtrail.envelopes import Found, split

    blob = next(open_local(str(shared_data / "dynamodb-real" / "dynamodb_records.ndjson")).blobs())
    records = [r for item in split(blob.chunks()) if isinstance(item, Found) for r in item.records]
    fields = column_plan(shipped()).columns_for(DYNAMODB, "PutItem")
    full = normalize(records, ingested=NOW, enricher=Enricher.create()).batch
    some = normalize(records, ingested=NOW, enricher=Enricher.create(), fields=fields).batch
    for name in full.schema.names:
        expected = (
            full.column(name)
            if name in fields
            else pa.nulls(len(records), full.schema.field(name).type)
        )
        assert some.column(name).equals(expected), name


_PAIRS = st.tuples(
    st.sampled_from(["dynamodb.amazonaws.com", "kms.amazonaws.com", "s3.amazonaws.com", None]),
    st.sampled_from(["DeleteTable", "Decrypt", "GetObject", "Scan", "Other"]),
)


@fuzz()
@given(st.lists(_PAIRS, max_size=30))
def test_the_picker_picks_what_the_selection_admits(pairs: list[tuple[str | None, str]]) -> None:
    chosen = selection(shipped())
    records = [Record(eventTime="t", eventSource=p, eventName=a) for p, a in pairs]
    expected = [i for i, (p, a) in enumerate(pairs) if chosen.admits(p, a)]
    assert chosen.picker()(records) == expected


_SELECTIONS = st.frozensets(
    st.tuples(
        st.sampled_from(["dynamodb.amazonaws.com", "kms.amazonaws.com", "s3.amazonaws.com", None]),
        st.sampled_from(["DeleteTable", "Decrypt", "GetObject", None]),
    ),
    min_size=1,
    max_size=6,
)


@fuzz()
@given(_SELECTIONS, st.lists(_PAIRS, min_size=1, max_size=8), st.integers(1, 300))
def test_the_column_picker_picks_what_the_selection_admits(
    pairs: frozenset[tuple[str | None, str | None]],
    rows: list[tuple[str | None, str]],
    length: int,
) -> None:
    # long runs too: from 128 rows on the picker judges them by kernel calls
    chosen = Selection(pairs)
    seen = (rows * (length // len(rows) + 1))[:length]
    providers = pa.array([p for p, _ in seen], pa.string())
    actions = pa.array([None if a == "Other" else a for _, a in seen], pa.string())
    both = zip(providers.to_pylist(), actions.to_pylist(), strict=True)
    expected = [i for i, (p, a) in enumerate(both) if chosen.admits(p, a)]
    assert chosen.column_picker()(providers, actions) == expected
