"""`trailhound report`, and `--report` on `scan`: the same alerts whichever way the report is
drawn, and bad input named by file and line, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from support.report_pages import AlertMaker, hostile_records, write_jsonl
from trailhound.cli import main
from trailhound.report import write_report

USAGE_ERROR = 2


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def embedded(page: Path) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                      page.read_text(), re.S)  # fmt: skip
    assert found is not None
    data: dict[str, Any] = orjson.loads(found.group(1))
    return data


def ids(page: Path) -> set[str]:
    return {alert["id"] for alert in embedded(page)["alerts"]}


@pytest.fixture
def scanned(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A scan of the hostile corpus that kept its state, its alerts and its report."""
    trail = tmp_path / "trail"
    trail.mkdir()
    (trail / "records.json").write_bytes(orjson.dumps({"Records": hostile_records()}))
    state, alerts, report = (
        tmp_path / "state.duckdb",
        tmp_path / "alerts.jsonl",
        tmp_path / "scan.html",
    )
    result = run(
        "scan", trail, "--state", state, "-o", alerts, "--report", report, "--workers", "1"
    )
    assert result.exit_code == 1, result.output  # 1: alerts were emitted
    assert f"wrote the report {report}: 5 alerts" in result.output
    return state, alerts, report


def test_scan_report_state_report_and_jsonl_report_show_the_same_alerts(
    scanned: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    state, alerts, from_scan = scanned
    from_state, from_file = tmp_path / "state.html", tmp_path / "file.html"
    assert run("report", "--state", state, "-o", from_state).exit_code == 0
    outcome = run("report", alerts, "-o", from_file)
    assert outcome.exit_code == 0, outcome.output
    assert f"wrote {from_file}: 5 alerts" in outcome.output
    written = {orjson.loads(line)["id"] for line in alerts.read_bytes().splitlines()}
    assert len(written) == 5
    assert ids(from_scan) == ids(from_state) == ids(from_file) == written


def test_only_a_scan_knows_its_input(scanned: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, alerts, from_scan = scanned
    page = from_scan.read_text()
    assert "events in 1 file, 4 of them DynamoDB" in page
    assert "Grey bars: DynamoDB events per" in page
    from_file = tmp_path / "file.html"
    run("report", alerts, "-o", from_file)
    page = from_file.read_text()
    assert "not known: the report was drawn from saved alerts" in page
    assert "Grey bars: alerts per" in page
    assert "since the saved alerts hold no events to count" in page


def test_a_rerun_says_what_it_does_not_repeat(
    scanned: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    state, _, _ = scanned
    again = tmp_path / "again.html"
    outcome = run("scan", tmp_path / "trail", "--state", state, "--report", again)
    assert outcome.exit_code == 0, outcome.output
    assert ids(again) == set()
    said = re.search(r"(\d+) matches were of events already counted", outcome.output)
    assert said is not None, outcome.output
    assert f"{said.group(1)} matched events already counted" in again.read_text()


def test_alerts_list_output_and_json_arrays_are_read_too(
    scanned: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    state, alerts, _ = scanned
    listed = run("alerts", "list", "--state", state, "--format", "jsonl")
    assert listed.exit_code == 0, listed.output
    (tmp_path / "listed.jsonl").write_text(listed.output)
    array = tmp_path / "array.json"
    array.write_bytes(orjson.dumps([orjson.loads(x) for x in alerts.read_bytes().splitlines()]))
    for source in ("listed.jsonl", "array.json"):
        page = tmp_path / f"{source}.html"
        assert run("report", tmp_path / source, "-o", page).exit_code == 0
        assert len(ids(page)) == 5


def test_since_and_until_keep_alerts_of_that_time(make_alert: AlertMaker, tmp_path: Path) -> None:
    alerts = [make_alert(time=f"2026-03-0{day}T12:00:00.000Z") for day in (1, 2, 3)]
    source = write_jsonl(tmp_path / "a.jsonl", alerts)
    page = tmp_path / "r.html"
    outcome = run("report", source, "--since", "2026-03-02T00:00Z", "--until", "2026-03-03T00:00Z",
                  "-o", page)  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert ids(page) == {alerts[1]["id"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a", "@timestamp": "2026-03-01T00:00:00Z", "rule": {}}\n{"id": 1',
         "bad.jsonl:2:9: not JSON"),
        (b"\n\n[1, 2]\n", "bad.jsonl: item 1: not an alert: expected a JSON object"),
        (b'{"id": "a"}\n', "bad.jsonl:1: not an alert: it lacks @timestamp, rule"),
        (b'{"eventName": "Scan", "eventTime": "2026-03-01T00:00:00Z"}\n',
         "bad.jsonl:1: this is CloudTrail, not alerts"),
        (b"\xff\xfe{}\n", "bad.jsonl:1:1: not JSON"),
    ],
)  # fmt: skip
def test_bad_alert_files_are_named_with_their_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "bad.jsonl").write_bytes(content)
    outcome = run("report", tmp_path / "bad.jsonl", "-o", tmp_path / "r.html")
    assert outcome.exit_code == USAGE_ERROR
    assert f"trailhound: {tmp_path / message}" in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    assert not (tmp_path / "r.html").exists()


def test_unusable_inputs_and_outputs_are_named(tmp_path: Path) -> None:
    (tmp_path / "garbage.duckdb").write_text("not a database")
    cases = [
        (["report", tmp_path / "missing.jsonl", "-o", tmp_path / "r.html"],
         "missing.jsonl' does not exist"),
        (["report", "--state", tmp_path / "missing.duckdb", "-o", tmp_path / "r.html"],
         f"{tmp_path / 'missing.duckdb'}: no state file here"),
        (["report", "--state", tmp_path / "garbage.duckdb", "-o", tmp_path / "r.html"],
         f"{tmp_path / 'garbage.duckdb'}: cannot use the state file"),
        (["report", tmp_path / "garbage.duckdb", "--state", tmp_path / "x", "-o", tmp_path / "r"],
         "give ALERTS.jsonl or --state, not both"),
        (["report", "--state", tmp_path / "garbage.duckdb", "-o", tmp_path / "no" / "r.html"],
         f"the folder {tmp_path / 'no'} does not exist"),
        (["scan", tmp_path, "--no-state", "--report", tmp_path / "no" / "r.html"],
         f"the folder {tmp_path / 'no'} does not exist"),
    ]  # fmt: skip
    for args, message in cases:
        outcome = run(*args)
        assert outcome.exit_code == USAGE_ERROR, (args, outcome.output)
        assert message in outcome.output, (args, outcome.output)
        assert isinstance(outcome.exception, SystemExit), outcome.exception
    assert not (tmp_path / "missing.duckdb").exists()  # a report never makes a state file
    assert not (tmp_path / "r.html").exists()


def test_a_report_that_cannot_be_written_leaves_nothing(
    make_alert: AlertMaker, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    (target / "inside").mkdir(parents=True)  # a folder where the file should go
    with pytest.raises(OSError):
        write_report(target, [make_alert()])
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no half-written page
    outcome = run("report", write_jsonl(tmp_path / "a.jsonl", [make_alert()]), "-o", target)
    assert outcome.exit_code == USAGE_ERROR
    assert "is a directory" in outcome.output
