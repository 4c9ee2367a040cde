"""What a Sigma rule says about itself, as a trailhound `Rule`'s fields: title -> name,
id -> rule_id, level -> severity and risk score, ATT&CK tags -> threat, falsepositives,
references, author, tags."""

from __future__ import annotations

import uuid
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from trailhound.rules.attack import ATTACK, TACTICS
from trailhound.rules.model import Severity, Technique, Threat

# Sigma's levels as Elastic's severities, with the risk score Elastic gives each by default.
_SEVERITY: dict[str, tuple[Severity, int]] = {
    "informational": ("low", 21),
    "low": ("low", 21),
    "medium": ("medium", 47),
    "high": ("high", 73),
    "critical": ("critical", 99),
}
_TACTIC_BY_SLUG = {name.lower().replace(" ", "-"): tid for tid, name in TACTICS.items()}
# Rules without an id get one derived from their title, so their alerts keep their identity.
_NAMESPACE = uuid.UUID("5b0b6a3c-2f64-4a51-9d57-3f5b1d1f7e60")


def metadata(rule: SigmaRule | SigmaCorrelationRule) -> dict[str, Any]:
    """The `Rule` keyword arguments that come from the rule's metadata."""
    severity, risk = _SEVERITY[str(rule.level or "medium")]
    return {
        "rule_id": str(rule.id or uuid.uuid5(_NAMESPACE, rule.title)),
        "name": rule.title,
        "description": (rule.description or rule.title).strip(),
        "version": 1,
        "severity": severity,
        "risk_score": risk,
        "false_positives": tuple(str(f) for f in rule.falsepositives),
        "references": tuple(str(r) for r in rule.references),
        "tags": tuple(str(t) for t in rule.tags),
        "author": (rule.author,) if rule.author else (),
        "threat": threats(rule),
    }


def threats(rule: SigmaRule | SigmaCorrelationRule) -> tuple[Threat, ...]:
    """ATT&CK tags (`attack.defense-evasion`, `attack.t1562.008`) as Elastic's threat entries.

    Sigma does not say under which tactic a technique falls, and an Elastic entry needs one, so
    the techniques are listed under the rule's first tactic."""
    attack = [t.name.lower() for t in rule.tags if t.namespace == "attack"]
    tactics = [_TACTIC_BY_SLUG[n] for n in attack if n in _TACTIC_BY_SLUG]
    techniques = _techniques([n.upper() for n in attack if n.startswith("t") and n[1:2].isdigit()])
    return tuple(
        Threat(
            ATTACK,
            tid,
            TACTICS[tid],
            f"https://attack.mitre.org/tactics/{tid}/",
            techniques if i == 0 else (),
        )
        for i, tid in enumerate(dict.fromkeys(tactics))
    )


def _techniques(ids: list[str]) -> tuple[Technique, ...]:
    parents = dict.fromkeys(i.split(".")[0] for i in ids)
    return tuple(
        Technique(
            parent,
            parent,
            _reference(parent),
            tuple(
                Technique(i, i, _reference(i))
                for i in dict.fromkeys(ids)
                if i.startswith(parent + ".")
            ),
        )
        for parent in parents
    )


def _reference(technique_id: str) -> str:
    return f"https://attack.mitre.org/techniques/{technique_id.replace('.', '/')}/"
