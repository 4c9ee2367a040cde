"""MITRE ATT&CK Enterprise tactics, so that a rule's threat mapping can be checked.

Tactic ids and names are checked against the table; technique and sub-technique ids are checked
for shape and nesting only. MITRE ATLAS mappings (which Elastic also accepts) are checked for shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from trailhound.rules.model import Threat

ATTACK = "MITRE ATT&CK"
ATLAS = "MITRE ATLAS"

TACTICS: Mapping[str, str] = MappingProxyType(
    {
        "TA0043": "Reconnaissance",
        "TA0042": "Resource Development",
        "TA0001": "Initial Access",
        "TA0002": "Execution",
        "TA0003": "Persistence",
        "TA0004": "Privilege Escalation",
        "TA0005": "Defense Evasion",
        "TA0006": "Credential Access",
        "TA0007": "Discovery",
        "TA0008": "Lateral Movement",
        "TA0009": "Collection",
        "TA0011": "Command and Control",
        "TA0010": "Exfiltration",
        "TA0040": "Impact",
    }
)

_ID_SHAPES: Mapping[str, tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]] = (
    MappingProxyType(
        {
            # tactic, technique, sub-technique
            ATTACK: (re.compile(r"TA\d{4}"), re.compile(r"T\d{4}"), re.compile(r"T\d{4}\.\d{3}")),
            ATLAS: (
                re.compile(r"AML\.TA\d{4}"),
                re.compile(r"AML\.T\d{4}"),
                re.compile(r"AML\.T\d{4}\.\d{3}"),
            ),
        }
    )
)
_SITES: Mapping[str, str] = MappingProxyType(
    {ATTACK: "https://attack.mitre.org", ATLAS: "https://atlas.mitre.org"}
)


def framework_problems(framework: str) -> list[str]:
    if framework in _ID_SHAPES:
        return []
    return [f"unknown threat framework {framework!r}; use {ATTACK!r} or {ATLAS!r}"]


# A problem names the key it is about ("id", "name" or "reference") and says what is wrong.
Problem = tuple[str, str]


def tactic_problems(framework: str, tactic_id: str, name: str, reference: str) -> list[Problem]:
    """What is wrong with a tactic entry: its id, its name against the id, its URL."""
    if framework not in _ID_SHAPES:
        return []
    if not _ID_SHAPES[framework][0].fullmatch(tactic_id):
        return [("id", f"{tactic_id!r} is not a tactic id of {framework}")]
    problems = _reference_problems(framework, "tactics", tactic_id, reference)
    if framework == ATTACK:
        known = TACTICS.get(tactic_id)
        if known is None:
            problems.append(("id", f"{tactic_id} is not an ATT&CK Enterprise tactic"))
        elif known != name:
            problems.append(("name", f"tactic {tactic_id} is named {known!r}, not {name!r}"))
    return problems


def technique_problems(
    framework: str, technique_id: str, reference: str, *, parent: str | None = None
) -> list[Problem]:
    """What is wrong with a technique entry, or a sub-technique entry when `parent` is given."""
    if framework not in _ID_SHAPES:
        return []
    shape = _ID_SHAPES[framework][1 if parent is None else 2]
    what = "technique" if parent is None else "sub-technique"
    if not shape.fullmatch(technique_id):
        return [("id", f"{technique_id!r} is not a {what} id of {framework}")]
    if parent is not None and technique_id.rpartition(".")[0] != parent:
        return [("id", f"sub-technique {technique_id} does not belong to technique {parent}")]
    return _reference_problems(framework, "techniques", technique_id, reference)


def technique_ids(threats: Iterable[Threat]) -> list[str]:
    """Every technique and sub-technique id of a rule's threat mappings, in order, once each."""
    seen: dict[str, None] = {}
    for threat in threats:
        for technique in threat.techniques:
            seen[technique.id] = None
            seen.update((sub.id, None) for sub in technique.subtechniques)
    return list(seen)


def _reference_problems(framework: str, kind: str, item_id: str, reference: str) -> list[Problem]:
    # Only a URL on MITRE's own site can be checked; an empty or other reference is left alone.
    site = _SITES[framework]
    if not reference.startswith(site + "/"):
        return []
    # ATT&CK writes a sub-technique's URL as T1555/006; ATLAS keeps the dot.
    path = item_id.replace(".", "/") if framework == ATTACK else item_id
    expected = f"{site}/{kind}/{path}"
    if reference.rstrip("/") != expected:
        return [("reference", f"reference {reference!r} does not point to {item_id} ({expected}/)")]
    return []
