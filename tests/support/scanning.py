"""Helpers for the rule-language tests: run rules over events, or over real CloudTrail files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support.events import detector
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.rules.model import Rule
from trailhound.sources.files import open_local


def scan_files(rules: Sequence[Rule], path: Path) -> list[Any]:
    """The alerts `rules` raise over the CloudTrail files under `path`, in one run."""
    d = detector(rules)
    for b in read_events([open_local(str(path))], enricher=Enricher.create(), report=Report()):
        d.add(b)
    return d.finish(final=True)
