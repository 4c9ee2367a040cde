"""A rule whose filter fails on the Spark executors is left out; the other rules go on."""

from __future__ import annotations

from datetime import UTC, datetime

from support.rules import action, rule
from trailhound.cloudtrail.geo import Enricher
from trailhound.pipeline.scan import stage_plan
from trailhound.spark.engine import _without


def test_the_plan_without_a_failed_rule_keeps_the_others() -> None:
    deleted, scanned = rule(action("DeleteTable")), rule(action("Scan"))
    plan = stage_plan([deleted, scanned], enricher=Enricher.create(), now=datetime.now(UTC))
    narrower = _without(plan, {deleted.rule_id: "ConversionException"})
    assert [f.rule_id for f in narrower.filters.filters] == [scanned.rule_id]
    assert narrower.columns == plan.columns  # the rest of the plan as it was
    assert [f.rule_id for f in plan.filters.filters] == [deleted.rule_id, scanned.rule_id]
