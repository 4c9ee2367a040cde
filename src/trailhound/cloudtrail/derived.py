"""The ECS fields that each come from one CloudTrail member: the constants, the members copied
as text, and what one distinct value of a member gives (from an address, a user agent, an action,
an event source, an assumed-role ARN). Each is worked out once per distinct value by whichever
normalizer spreads it over the rows (`ecs.py` from records, `columnar.py` from columns).
"""

from __future__ import annotations

import re
from typing import Any, Final

from trailhound.cloudtrail.categories import categorize
from trailhound.cloudtrail.geo import NOT_AN_IP, Enricher

DATASET: Final = "aws.cloudtrail"
CONSTANTS: Final = (
    ("event.kind", "event"),
    ("event.dataset", DATASET),
    ("data_stream.dataset", DATASET),
    ("cloud.provider", "aws"),
)
TEXT_MEMBERS: Final = (
    ("aws.cloudtrail.event_version", "eventVersion"),
    ("aws.cloudtrail.event_type", "eventType"),
    ("aws.cloudtrail.event_category", "eventCategory"),
    ("aws.cloudtrail.api_version", "apiVersion"),
    ("aws.cloudtrail.request_id", "requestID"),
    ("aws.cloudtrail.shared_event_id", "sharedEventID"),
    ("aws.cloudtrail.vpc_endpoint_id", "vpcEndpointId"),
    ("aws.cloudtrail.error_code", "errorCode"),
    ("aws.cloudtrail.error_message", "errorMessage"),
)

_AMAZONAWS: Final = ".amazonaws.com"
_SESSION_ARN: Final = re.compile(r"arn:(?:aws|aws-us-gov):sts:.*/(?P<session>.*)$")

ADDRESS_COLUMNS: Final = (
    "source.ip",
    "related.ip",
    "source.geo.country_iso_code",
    "source.geo.country_name",
    "source.geo.continent_name",
    "source.geo.region_name",
    "source.geo.region_iso_code",
    "source.geo.city_name",
    "source.as.number",
    "source.as.organization.name",
)

USER_AGENT_COLUMNS: Final = (
    "user_agent.original",
    "user_agent.name",
    "user_agent.version",
    "user_agent.os.name",
    "user_agent.os.version",
    "user_agent.os.full",
    "user_agent.device.name",
)


def address_values(enricher: Enricher, address: str | None) -> tuple[Any, ...]:
    """The values of ADDRESS_COLUMNS for one cleaned `sourceIPAddress`."""
    info = enricher.address(address) if address is not None else NOT_AN_IP
    return (
        info.ip,
        [info.ip] if info.ip is not None else None,
        info.country_iso_code,
        info.country_name,
        info.continent_name,
        info.region_name,
        info.region_iso_code,
        info.city_name,
        info.as_number,
        info.as_organization,
    )


def user_agent_values(enricher: Enricher, original: str | None) -> tuple[str | None, ...]:
    """The values of USER_AGENT_COLUMNS for one cleaned `userAgent`."""
    if original is None:
        return (None,) * len(USER_AGENT_COLUMNS)
    agent = enricher.user_agent(original)
    return (
        original,
        agent.name,
        agent.version,
        agent.os_name,
        agent.os_version,
        agent.os_full,
        agent.device_name,
    )


def categories(action: str | None) -> tuple[list[str] | None, list[str] | None]:
    """event.category and event.type of one action."""
    category, types = categorize(action)
    return list(category) or None, list(types) or None


def service_name(source: str | None) -> tuple[str | None]:
    """cloud.service.name of one event source."""
    if source is None or not source.endswith(_AMAZONAWS):
        return (None,)
    return (source[: -len(_AMAZONAWS)] or None,)


def session_name(kind: str | None, arn: str | None) -> str | None:
    """The role session name of an assumed-role ARN (Elastic adds it to related.user)."""
    if kind not in ("AssumedRole", "FederatedUser") or arn is None:
        return None
    found = _SESSION_ARN.search(arn)
    return (found["session"] or None) if found else None


def is_email(name: str | None) -> bool:
    return name is not None and name.find("@") > 0


__all__ = [
    "ADDRESS_COLUMNS",
    "CONSTANTS",
    "DATASET",
    "TEXT_MEMBERS",
    "USER_AGENT_COLUMNS",
    "address_values",
    "categories",
    "is_email",
    "service_name",
    "session_name",
    "user_agent_values",
]
