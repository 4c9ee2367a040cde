"""How big a hunt report of 10,000 alerts is, and how long it takes to write and to open.

    python bench/html_report.py [--alerts 10000] [--runs 3] [--keep report.html]

The alerts are the demo's (4 simulated days, seed 0: 918 real alerts of the shipped pack with
their evidence and guides), copied with new ids, their times spread over 30 days and their
actors varied, until there are as many as asked. The page is opened in headless Chromium
(Debian's `chromium`, driven by Playwright) from file://, each run in a fresh context:
"ready" is when the page's script has parsed the data and drawn the list; a filter's time is
from the click to the list drawn again. Prints one JSON line; medians of the runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def demo_alerts(workdir: Path) -> list[dict[str, Any]]:
    from trailhound.demo import run_demo

    return [a.to_dict() for a in run_demo(workdir, days=4, seed=0).scan.alerts]


def scaled(alerts: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    made = []
    for n in range(count):
        alert = copy.deepcopy(alerts[n % len(alerts)])
        moment = start + timedelta(seconds=(n * 30 * 86_400) // count)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        alert["id"] = f"{n:032x}"
        alert["@timestamp"] = alert["event"]["start"] = alert["event"]["end"] = stamp
        for document in alert["evidence"]:
            document["@timestamp"] = stamp
            user = document.get("user")
            if isinstance(user, dict) and "name" in user:
                user["name"] = f"{user['name']}-{n % 40}"
        made.append(alert)
    return made


def open_times(page: Path, runs: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    ready, loaded, severity, search = [], [], [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            view = context.new_page()
            began = time.perf_counter()
            view.goto(page.resolve().as_uri(), wait_until="load", timeout=120_000)
            loaded.append(time.perf_counter() - began)
            view.wait_for_selector("html[data-ready]", timeout=120_000)
            ready.append(time.perf_counter() - began)
            began = time.perf_counter()
            view.uncheck("input[name=severity][value=low]")
            severity.append(time.perf_counter() - began)
            began = time.perf_counter()
            view.fill("input[name=q]", "80.82.77")
            view.press("input[name=q]", "Enter")
            search.append(time.perf_counter() - began)
            context.close()
        browser.close()
    return {
        "load_s": statistics.median(loaded),
        "ready_s": statistics.median(ready),
        "severity_filter_s": statistics.median(severity),
        "search_s": statistics.median(search),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Keep the report here.")
    args = parser.parse_args()

    from trailhound.report import write_report

    with tempfile.TemporaryDirectory(prefix="trailhound-report-bench-") as tmp:
        alerts = scaled(demo_alerts(Path(tmp)), args.alerts)
        page = args.keep or Path(tmp) / "report.html"
        began = time.perf_counter()
        write_report(page, alerts)
        written = time.perf_counter() - began
        result = {
            "alerts": len(alerts),
            "bytes": page.stat().st_size,
            "write_s": written,
            **open_times(page, args.runs),
        }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
