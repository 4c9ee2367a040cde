"""URIs only Spark reads (`s3a://`, `hdfs://`...) go to Spark's own file reader
(`binaryFile`); here a `file://` URI stands for them, read the same way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conformance.conftest import NOW
from conformance.records import delivery, record
from support.rules import action, rule
from trailhound.pipeline.scan import scan
from trailhound.rules.model import ThresholdSpec
from trailhound.sources import open_sources
from trailhound.state.store import Store

pytestmark = pytest.mark.spark
THREE = rule(action("DeleteTable"), ThresholdSpec(("user.name",), 3, window=timedelta(hours=1)))


def test_files_spark_lists_itself_give_the_alerts_and_names_of_local_files(
    spark: Any, tmp_path: Path
) -> None:
    from trailhound.spark.engine import SparkEngine

    logs = tmp_path / "logs"
    for n in range(3):
        delivery(logs, f"part-{n}", [record(n, n * timedelta(minutes=5))])
    broken = logs / "broken.json"
    broken.write_text('{"Records": [')
    by_spark = scan([], [THREE], store=Store.open(None), now=NOW,
                    engine=SparkEngine(spark, uris=[logs.as_uri()]))  # fmt: skip
    local = scan(open_sources([str(logs)]), [THREE], store=Store.open(None), now=NOW)
    assert len(local.alerts) == 1
    assert [a.id for a in by_spark.alerts] == [a.id for a in local.alerts]
    assert by_spark.report.files_read == local.report.files_read == 4
    assert [p.where for p in by_spark.report.problems] == [str(broken)]
