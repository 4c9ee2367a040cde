"""trailhound on Apache Spark (`pip install 'trailhound[spark]'`, `scan --engine spark`).

Spark runs the stage of a scan (read, select, normalize, filter) over the whole input in
parallel; the rows the rules matched, few, come back to the driver and feed the same
`Detector` as every other engine, in one transaction on one state store.

- `engine`: the engine registered as `spark` (`trailhound.pipeline.engines`).
- `executors`: what the executors run (trailhound's reader and normalizer, packing matches).
- `rows`: the Spark schema of the rows the executors make, from `cloudtrail.schema`.
- `sql`: the rule filters as Spark SQL, and the functions they call, registered in Spark.
- `session`: the Spark session (local, a master URL, or the one `spark-submit` started).
- `state`: the state as Parquet generations at a path the user chooses.

Nothing here is imported unless the Spark engine is asked for: pyspark is an optional extra.
"""
