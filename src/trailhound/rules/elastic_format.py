"""The numbers and names Elastic's rule format fixes, shared by the reader and the writer.

The reader fills in a default the file leaves out and the writer leaves out a value equal to it,
so both must agree on the same constants.
"""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

from trailhound.rules.model import Severity

RUNNABLE_TYPES = ("query", "threshold", "new_terms", "sequence", "baseline", "correlation")
SEVERITIES: tuple[str, ...] = get_args(Severity)
# Elastic's rule types that cannot run on CloudTrail files alone, and why.
REFUSED_TYPES: dict[str, str] = {
    "esql": (
        "ES|QL rules are not supported: ES|QL is a piped language over whole indices "
        "(FROM, STATS, LOOKUP JOIN), not a test of one event; trailhound runs KQL and EQL"
    ),
    "machine_learning": (
        "machine learning rules are not supported: they read the anomaly scores of "
        "Elastic's ML jobs, which run in Elasticsearch, not in trailhound"
    ),
    "threat_match": (
        "indicator match (threat_match) rules are not supported: they join events with "
        "indicator indices that trailhound does not have"
    ),
}
NEW_TERMS_MAX_FIELDS = 3  # Elastic's limit
SUPPRESSION_MAX_FIELDS = 3  # Elastic's limit
# Elastic allows 3 threshold fields before stack 9.2 and 5 from it on.
THRESHOLD_MAX_FIELDS = 5
THRESHOLD_MAX_FIELDS_BEFORE_9_2 = 3

DEFAULT_LOOKBACK = timedelta(minutes=6)
DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_MAX_SIGNALS = 100
