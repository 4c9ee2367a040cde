"""The Spark session a scan runs on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

# Shuffles are rare here (the stage is narrow); few partitions keep a small job's overhead low.
_CONF = {
    "spark.sql.session.timeZone": "UTC",  # the executors hand over times in UTC
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def spark_session(master: str | None = None) -> SparkSession:
    """The session `spark-submit` started, else a new one on `master` (`local[*]`: every
    core of this machine)."""
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return _configured(active)
    builder = SparkSession.builder.appName("trailhound")
    if master is not None or not _submitted():
        builder = builder.master(master or "local[*]")
    if not _submitted():
        # read when pyspark starts the JVM: Spark's own start-up notes stay off stderr
        logging = Path(__file__).with_name("log4j2.properties")
        os.environ.setdefault(
            "PYSPARK_SUBMIT_ARGS",
            f"--driver-java-options -Dlog4j2.configurationFile=file:{logging} pyspark-shell",
        )
    if (master or "local").startswith("local"):
        # the executors of a local session run this very Python, which has trailhound (pyspark
        # reads the variable when the session starts)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in _CONF.items():
        builder = builder.config(key, value)
    spark = _configured(builder.getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")  # Spark's warnings are not the user's business
    return spark


def _submitted() -> bool:
    """Under `spark-submit`, which hands this process its JVM and master."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _configured(spark: SparkSession) -> SparkSession:
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark
