"""The `spark` engine: the stage of a scan on an Apache Spark session.

    blobs (listed here) ─► executors: trailhound's reader + normalizer ─► rows (explicit schema)
      or files Spark lists itself (s3a://, hdfs://...)      │
                                                            ▼
                       Spark SQL: every rule filter over the rows, `__filters` per row
                                                            │
              executors: matched rows thinned and packed ◄──┘ (same partition, no shuffle)
                                                            │
    driver: the stage outputs, in order ─► `Detector` (the one decision code) on the store

Files the existing sources list (local paths, `s3://` keys) are listed on the driver, cut into
units of work of a few MB, and read on the executors by the same openers (boto3 for S3, so no
Hadoop S3 connector is needed). URIs only Hadoop reads (`s3a://`, `hdfs://`, `abfss://`...)
are listed and read by Spark (`binaryFile`).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from itertools import count

import pyarrow as pa
from msgspec import structs
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.schema import arrow_schema
from trailhound.engine.filtering import FilterPlan, failure
from trailhound.errors import ConfigError
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import StageOutput, StagePlan
from trailhound.sources import Blob
from trailhound.spark import executors
from trailhound.spark.rows import event_columns, spark_schema
from trailhound.spark.session import spark_session
from trailhound.spark.sql import matching_query, register_functions, spark_where

TASK_BYTES = 8 << 20
"""Stored bytes per unit of work: about 50,000 events, a few seconds of an executor's core,
enough that the per-task cost of Spark (tens of ms) stays small."""
_views = count()


class SparkEngine:
    """`session` (else one made on `master`, see `spark_session`); `uris` are read by Spark
    itself besides the blobs a scan is given."""

    def __init__(
        self,
        session: SparkSession | None = None,
        *,
        master: str | None = None,
        uris: Sequence[str] = (),
    ) -> None:
        self._session = session
        self.master = master
        self.uris = tuple(uris)

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            self._session = spark_session(self.master)
        return self._session

    def stage_outputs(
        self, blobs: Iterable[Blob], plan: StagePlan, report: Report
    ) -> Iterator[StageOutput]:
        listed = list(blobs)
        for blob in listed:
            if not blob.portable:
                raise ConfigError(
                    f"the Spark engine reads files and buckets, not {blob.name}; save it to "
                    "a file first", where=blob.name,
                )  # fmt: skip
        if not listed and not self.uris:
            return iter(())
        return self._run(listed, plan)

    def _run(self, blobs: list[Blob], plan: StagePlan) -> Iterator[StageOutput]:
        spark = self.session
        register_functions(spark)
        columns = event_columns({*plan.filters.columns, *plan.stored})
        rows = self._inputs(spark, blobs).mapInArrow(
            partial(executors.normalized_rows, plan=plan, columns=columns), spark_schema(columns)
        )
        view = f"trailhound_events_{next(_views)}"
        rows.createOrReplaceTempView(view)
        failed: dict[str, str] = {}
        try:
            try:
                table = _matched(spark, view, plan)
            except Exception as exc:  # a filter met data it cannot evaluate, or worse
                failed = _failing_filters(spark, rows, view, plan.filters)
                if not failed:
                    raise exc from None
                table = _matched(spark, view, _without(plan, failed))
        finally:
            spark.catalog.dropTempView(view)
        outputs = [pickle.loads(data) for data in table.column("output").to_pylist()]
        if failed:
            outputs.append(StageOutput(failed=failed))
        return iter(outputs)

    def _inputs(self, spark: SparkSession, blobs: list[Blob]) -> DataFrame:
        schema = "part int, name string, content binary, blobs binary"
        tasks = cut_into_tasks(blobs, TASK_BYTES)
        listed = spark.sparkContext.parallelize(
            [(i, None, None, pickle.dumps(t)) for i, t in enumerate(tasks)], max(len(tasks), 1)
        ).toDF(schema)
        if not self.uris:
            return listed
        files = spark.read.format("binaryFile").option("recursiveFileLookup", "true")
        read = files.load(list(self.uris)).select(
            (F.spark_partition_id() + len(tasks)).alias("part"), F.col("path").alias("name"),
            "content", F.lit(None).cast("binary").alias("blobs"),
        )  # fmt: skip
        return listed.union(read) if tasks else read


def _matched(spark: SparkSession, view: str, plan: StagePlan) -> pa.Table:
    """The stage outputs of the rows in `view`, pickled, in the order they were read."""
    keep = [f.name for f in arrow_schema() if f.name in plan.stored]
    outputs = spark.sql(matching_query(plan.filters, view)).mapInArrow(
        partial(executors.packed_outputs, plan=plan, keep=keep), "part int, seq int, output binary"
    )
    return outputs.toArrow().sort_by([("part", "ascending"), ("seq", "ascending")])


def _failing_filters(
    spark: SparkSession, rows: DataFrame, view: str, plan: FilterPlan
) -> dict[str, str]:
    """Rule id -> why, for each rule whose filter fails on these rows: it is left out of the
    run and the others go on, as with the DuckDB engine. Each filter is tried alone, over
    rows kept by Spark so that they are read and normalized once more, not once a filter."""
    rows.persist(StorageLevel.MEMORY_AND_DISK)
    failed: dict[str, str] = {}
    try:
        for rule_filter in plan.filters:
            if rule_filter.rule_id in failed:
                continue
            try:
                spark.sql(f"SELECT count(*) FROM {view} WHERE {spark_where(rule_filter)}").collect()
            except Exception as exc:
                failed[rule_filter.rule_id] = failure(exc)
    finally:
        rows.unpersist()
    return failed


def _without(plan: StagePlan, failed: dict[str, str]) -> StagePlan:
    kept = tuple(f for f in plan.filters.filters if f.rule_id not in failed)
    # the plan is a msgspec Struct, its filters a dataclass
    narrower: StagePlan = structs.replace(plan, filters=replace(plan.filters, filters=kept))
    return narrower


