"""A scan whose rules come from the rule cache starts without the rule-reading libraries.

sqlglot (the filters' trees), lark (KQL) and eql cost a small scan about 0.25 s of its start:
once a run has read the rules and built their filters, the next runs take both from the cache
folder and load none of the three, and they find the same alerts as a run without any cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RULE_READERS = ("sqlglot", "lark", "eql")
DECOY_RULE = "AWS DynamoDB Decoy Table Accessed"


def _record(name: str, table: str, event_id: str) -> dict[str, object]:
    return {
        "eventVersion": "1.08", "eventTime": "2026-01-01T00:00:00Z", "eventID": event_id,
        "eventSource": "dynamodb.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "requestParameters": {"tableName": table, "backupArn": f"arn:aws:dynamodb:us-east-1:"
                              f"111122223333:table/{table}/backup/01"},
        "recipientAccountId": "111122223333",
    }  # fmt: skip


@pytest.fixture
def scan_input(tmp_path: Path) -> tuple[Path, Path]:
    """An input with a decoy table read and a backup deleted, and a config naming the decoy
    (an override of the rule's parameters, which the cached filters must follow)."""
    records = [
        _record("GetItem", "payroll-archive", "e-1"),
        _record("DeleteBackup", "orders", "e-2"),
    ]
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"Records": records}))
    config = tmp_path / "trailhound.toml"
    config.write_text(
        f'[rules.overrides."{DECOY_RULE}"]\nparameters = {{ decoy_tables = ["payroll-archive"] }}\n'
    )
    return events, config


def _scan(
    tmp_path: Path, events: Path, config: Path, cache: Path, state: Path | None = None
) -> tuple[set[str], list[str]]:
    """The modules a `trailhound scan` process loaded, and the rule names of its alerts."""
    out = tmp_path / "alerts.jsonl"
    out.unlink(missing_ok=True)
    kept = "'--no-state'" if state is None else f"'--state', {str(state)!r}"
    script = (
        "import sys\nfrom trailhound.cli import main\n"
        f"main(['scan', {str(events)!r}, {kept}, '-q', '--format', 'jsonl', '--output', "
        f"{str(out)!r}, '--config', {str(config)!r}], standalone_mode=False)\n"
        "print('\\n'.join(sys.modules))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return set(done.stdout.split()), sorted(a["rule"]["name"] for a in alerts)


def _readers(loaded: set[str]) -> set[str]:
    return {m for m in loaded if m.split(".")[0] in RULE_READERS}


def test_a_scan_from_the_cache_loads_no_rule_reader(
    tmp_path: Path, scan_input: tuple[Path, Path]
) -> None:
    events, config = scan_input
    cache = tmp_path / "cache"
    first_loaded, first_alerts = _scan(tmp_path, events, config, cache)
    assert {"sqlglot", "lark"} <= _readers(first_loaded)  # it read the rules and built filters
    again_loaded, again_alerts = _scan(tmp_path, events, config, cache)
    assert _readers(again_loaded) == set()
    assert again_alerts == first_alerts
    assert {DECOY_RULE, "AWS DynamoDB Backup Deleted"} <= set(first_alerts)


def test_a_changed_override_builds_that_filter_anew(
    tmp_path: Path, scan_input: tuple[Path, Path]
) -> None:
    events, config = scan_input
    cache = tmp_path / "cache"
    _scan(tmp_path, events, config, cache)
    # another decoy: the cached filter of the decoy rule no longer fits, so it is built again
    config.write_text(config.read_text().replace("payroll-archive", "orders"))
    loaded, alerts = _scan(tmp_path, events, config, cache)
    assert "sqlglot" in loaded
    assert alerts.count(DECOY_RULE) == 1
    loaded, again = _scan(tmp_path, events, config, cache)
    assert _readers(loaded) == set() and again == alerts


def test_a_scan_read_in_one_process_loads_no_multiprocessing(
    tmp_path: Path, scan_input: tuple[Path, Path]
) -> None:
    """Its workers' machinery (multiprocessing, the pool) is for scans with workers only."""
    events, config = scan_input
    loaded, alerts = _scan(tmp_path, events, config, tmp_path / "cache")
    assert {"multiprocessing", "trailhound.pipeline.pool"}.isdisjoint(loaded)
    assert DECOY_RULE in alerts


def _small_scans(tmp_path: Path, scan_input: tuple[Path, Path]) -> list[set[str]]:
    """The modules loaded by a small scan with no state, a new state file and the same file
    again (whose alerts the one before sent), each checked to alert as it should."""
    events, config = scan_input
    cache, state = tmp_path / "cache", tmp_path / "state.duckdb"
    _scan(tmp_path, events, config, cache)  # rules read and cached: their first run is apart
    loaded_each = []
    for kept, alerted in ((None, True), (state, True), (state, False)):
        loaded, alerts = _scan(tmp_path, events, config, cache, kept)
        assert (DECOY_RULE in alerts) == alerted
        loaded_each.append(loaded)
    return loaded_each


def test_a_small_scan_loads_no_masked_arrays(
    tmp_path: Path, scan_input: tuple[Path, Path]
) -> None:
    """NumPy's masked arrays (`numpy.ma`, 7-10 ms of every start) are not asked for by a small
    scan, with or without a state file, as long as its NumPy arrays reach Arrow through
    `trailhound.numpy_arrow` (`pa.array` of a NumPy array, or a compute function given one,
    imports them to ask whether it was handed one)."""
    for loaded in _small_scans(tmp_path, scan_input):
        assert "numpy.ma" not in loaded


def test_a_small_scan_loads_no_pyarrow_compute(
    tmp_path: Path, scan_input: tuple[Path, Path]
) -> None:
    """`pyarrow.compute` (20-27 ms of every start: it wraps each of Arrow's kernels in Python)
    is not imported by a small scan, with or without a state file, as long as its path calls
    the kernels through `trailhound.arrow_kernels`, Arrow's own `take`, `filter`, `cast` and
    the like included (each imports it on its first call)."""
    for loaded in _small_scans(tmp_path, scan_input):
        assert "pyarrow.compute" not in loaded
        assert "pyarrow._compute" in loaded  # the kernels did run, through the lighter module
