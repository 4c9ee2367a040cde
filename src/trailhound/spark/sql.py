"""The rule filters as Spark SQL, and the functions they call, registered in Spark.

Each filter is its typed tree rendered for the spark dialect (engine/dialects.py), with the
columns renamed as Spark's rows name them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T
from pyspark.sql.functions import udf
from sqlglot import exp

from trailhound.cloudtrail.schema import BY_NAME
from trailhound.engine import udfs
from trailhound.engine.dialects import rewritten
from trailhound.engine.filtering import FilterPlan, RuleFilter
from trailhound.engine.udfs import CIDR_UDF, FLAT_UDF, IP_UDF, ip_key
from trailhound.spark.rows import FILTERS, SUMMARY, spark_name


def spark_where(rule_filter: RuleFilter) -> str:
    """The filter's condition in Spark SQL: its tree as the spark dialect renders it, with the
    columns under the names Spark rows carry (a dotted name would read as a struct member)."""
    tree = rewritten(rule_filter.tree, "spark")
    if tree is rule_filter.tree:  # the shared tree is never changed in place
        tree = tree.copy()
    return tree.transform(_spark_column, copy=False).sql("spark", copy=False)


def _spark_column(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Column) and node.name in BY_NAME:
        return exp.column(spark_name(node.name), quoted=True)
    return node


def matching_query(plan: FilterPlan, view: str) -> str:
    """Every row of `view` some filter matches, with the filters it matches (`__filters`, by
    their index in `plan`), and every summary row."""
    picks = ", ".join(
        f"IF({spark_where(f)}, {i}, CAST(NULL AS INT))" for i, f in enumerate(plan.filters)
    ) or "CAST(NULL AS INT)"
    return (
        f"SELECT * FROM (SELECT *, filter(array({picks}), x -> x IS NOT NULL) AS {FILTERS} "
        f"FROM {view}) WHERE {SUMMARY} IS NOT NULL OR ({_window(plan)} AND size({FILTERS}) > 0)"
    )


def _window(plan: FilterPlan) -> str:
    """`--since` / `--until` and a known time: the one per-row condition of every filter."""
    parts = ["`timestamp` IS NOT NULL"]
    if plan.since is not None:
        parts.append(f"`timestamp` >= timestamp_micros({_us(plan.since)})")
    if plan.until is not None:
        parts.append(f"`timestamp` < timestamp_micros({_us(plan.until)})")
    return "(" + " AND ".join(parts) + ")"


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def register_functions(
    spark: SparkSession, names: Sequence[str] = (FLAT_UDF, CIDR_UDF, IP_UDF)
) -> None:
    """The functions trailhound's filters call, under the names the filters use (the same
    Python functions DuckDB runs, `trailhound.engine.udfs`)."""
    known: dict[str, tuple[Callable[..., Any], T.DataType]] = {
        FLAT_UDF: (udfs.flattened_values, T.ArrayType(T.StringType())),
        CIDR_UDF: (udfs.in_cidr, T.BooleanType()),
        IP_UDF: (ip_key, T.StringType()),
    }
    for name in names:
        function, kind = known[name]
        spark.udf.register(name, udf(function, kind, useArrow=True))
