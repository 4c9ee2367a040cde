"""Real CloudTrail records of many shapes from `../shared/data`, each as its JSON text:
DynamoDB calls, Elastic's conformance pairs' raw events, Stratus Red Team's attacks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def real_record_texts(shared_data: Path) -> list[bytes]:
    real = shared_data / "dynamodb-real"
    values: list[Any] = [json.loads(line) for line in (real / "dynamodb_records.ndjson").open()]
    delivered = gzip.decompress((real / "s3_delivery_Records.json.gz").read_bytes())
    values += json.loads(delivered)["Records"]
    pairs = shared_data / "ecs-conformance" / "elastic_cloudtrail_pairs.ndjson"
    values += [json.loads(line)["raw"] for line in pairs.open()]
    for path in sorted((shared_data / "negative" / "stratus-red-team").glob("*.json")):
        values += json.loads(path.read_text())
    return [json.dumps(v).encode() for v in values]
