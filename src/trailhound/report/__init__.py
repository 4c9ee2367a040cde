"""A hunt report: one HTML file that opens offline and shows what happened, when, who did it,
from where and to which tables, with the evidence and each rule's investigation guide.

    from trailhound.report import Scope, write_report
    write_report(Path("report.html"), [a.to_dict() for a in result.alerts],
                 scope=Scope.of_scan(result, rules))

`Scope` says what the input covered; without a scan, `Scope.of_alerts(...)` says where the
alerts came from, and the timeline then counts alerts instead of events. `alerts_from_file`
and `alerts_from_state` read alerts saved by earlier runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from trailhound.report.gather import ReportData, gather
from trailhound.report.inputs import alerts_from_file, alerts_from_state
from trailhound.report.page import render_page
from trailhound.report.scope import Scope

__all__ = [
    "TITLE",
    "ReportData",
    "Scope",
    "alerts_from_file",
    "alerts_from_state",
    "gather",
    "render_report",
    "write_report",
]

TITLE = "trailhound hunt report"


def render_report(
    alerts: Iterable[Mapping[str, Any]],
    *,
    scope: Scope | None = None,
    title: str = TITLE,
    now: datetime | None = None,
) -> str:
    """The report page for these alert dicts (`Alert.to_dict()`), as text."""
    data = gather(alerts, scope or Scope.of_alerts("alerts given"), title=title, now=now)
    return render_page(data)


def write_report(
    path: Path,
    alerts: Iterable[Mapping[str, Any]],
    *,
    scope: Scope | None = None,
    title: str = TITLE,
    now: datetime | None = None,
) -> ReportData:
    """Write the report to `path`, whole or not at all (a failed write leaves no half page
    behind), and return the facts it shows."""
    data = gather(alerts, scope or Scope.of_alerts("alerts given"), title=title, now=now)
    page = render_page(data).encode("utf-8")
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(page)
        os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return data


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask
