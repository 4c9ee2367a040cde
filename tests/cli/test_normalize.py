"""`trailhound normalize` as a user runs it: ECS on stdout, problems on stderr, a status."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from trailhound.cli import main


def _records_of(folder: Path) -> list[dict[str, Any]]:
    """The CloudTrail records in the dynamodb-real files, found with json alone."""
    out: list[dict[str, Any]] = []
    out += [json.loads(x) for x in (folder / "dynamodb_records.ndjson").read_text().splitlines()]
    out += [
        json.loads(x)["detail"]
        for x in (folder / "eventbridge_events.ndjson").read_text().splitlines()
    ]
    s3 = gzip.decompress((folder / "s3_delivery_Records.json.gz").read_bytes())
    out += json.loads(s3)["Records"]
    sqs = json.loads((folder / "sqs_eventbridge_message.json").read_text())
    out += [json.loads(m["body"])["detail"] for m in sqs["Records"]]
    out.append(json.loads((folder / "single_record_describe_table.json").read_text()))
    return out


# what the `trailhound` console script runs, in a fresh process
_RUN_CLI = "from trailhound.cli import main; main(prog_name='trailhound')"


def test_done_when_real_files_and_a_truncated_gzip(shared_data: Path, tmp_path: Path) -> None:
    real = shared_data / "dynamodb-real"
    logs = tmp_path / "logs"
    shutil.copytree(real, logs)
    # a delivery file cut short: the first records whole, the rest lost
    records = _records_of(real)
    packed = gzip.compress(json.dumps({"Records": records}).encode())
    cut = packed[: len(packed) * 3 // 5]
    (logs / "cut_short.json.gz").write_bytes(cut)
    prefix = zlib.decompressobj(wbits=31).decompress(cut)
    salvaged = [r for r in records if json.dumps(r).encode() + b"," in prefix]
    assert 0 < len(salvaged) < len(records)

    run = subprocess.run(
        [sys.executable, "-c", _RUN_CLI, "normalize", str(logs)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 1
    documents = [json.loads(x) for x in run.stdout.splitlines()]
    assert len(documents) == len(records) + len(salvaged)
    assert sorted(d["event"]["action"] for d in documents) == sorted(
        r["eventName"] for r in records + salvaged
    )
    assert all(d["event"]["dataset"] == "aws.cloudtrail" and "@timestamp" in d for d in documents)
    problems = [x for x in run.stderr.splitlines() if str(logs) in x]
    assert problems == [
        f"trailhound: {logs / 'cut_short.json.gz'}: record {len(salvaged) + 1}: truncated gzip: "
        "gzip data ends early: the file was cut short; "
        f"the {len(salvaged)} complete records before it were read"
    ]
    assert run.stderr.splitlines()[-2:] == [
        f"trailhound: read 6 files, normalized {len(documents)} records",
        "trailhound: set aside 1 file in whole or in part: truncated gzip (1)",
    ]


def _sample(**extra: Any) -> str:
    record = {
        "eventVersion": "1.08",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteTable",
        "sourceIPAddress": "81.2.69.144",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        **extra,
    }
    return json.dumps(record) + "\n"


def test_clean_input_exits_0_and_reads_stdin() -> None:
    result = CliRunner().invoke(main, ["normalize", "-"], input=_sample() + _sample())
    assert result.exit_code == 0, result.output
    docs = [json.loads(x) for x in result.stdout.splitlines()]
    assert [d["user"]["name"] for d in docs] == ["alice", "alice"]
    assert result.stderr.splitlines() == ["trailhound: read 1 file, normalized 2 records"]


def test_quiet_keeps_problems_and_drops_the_summary(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_text(_sample() + "{oops\n")
    result = CliRunner().invoke(main, ["normalize", "--quiet", str(tmp_path)])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr.splitlines() == [
        f"trailhound: {tmp_path / 'a.ndjson'}: line 2: invalid JSON: "
        "unexpected character, expected a string key (column 2)"
    ]


def test_geoip_databases_add_city_and_asn(shared_data: Path) -> None:
    geo = shared_data / "geo"
    args = ["normalize", "--geoip", str(geo / "GeoLite2-City-Test.mmdb"), "-"]
    args[3:3] = ["--geoip", str(geo / "GeoLite2-ASN-Test.mmdb")]
    result = CliRunner().invoke(main, args, input=_sample(sourceIPAddress="89.160.20.156"))
    assert result.exit_code == 0, result.output
    (doc,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert doc["source"]["geo"]["country_iso_code"] == "SE"
    assert doc["source"]["as"]["number"] == 29518


def test_a_missing_path_is_set_aside_not_a_crash(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["normalize", str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert f"trailhound: {tmp_path / 'nope.json'}: cannot read: no such file or directory" in (
        result.stderr.splitlines()
    )


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["normalize"]).exit_code == 2
    assert runner.invoke(main, ["normalize", "--format", "csv", "-"]).exit_code == 2
    missing_db = runner.invoke(main, ["normalize", "--geoip", str(tmp_path / "x.mmdb"), "-"])
    assert missing_db.exit_code == 2
    scheme = runner.invoke(main, ["normalize", "gopher://host/logs"])
    assert scheme.exit_code == 2
    assert "no source reads gopher://" in scheme.stderr
