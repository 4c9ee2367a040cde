"""What trailhound adds to an event from outside it: where an address is, and what a user agent is.

Without databases the country comes from `iptocc` (offline, registry data). MaxMind `.mmdb` files
(City, Country, ASN) come first and add region, city, continent and autonomous system, with the
same fields and values Elasticsearch's `geoip` processor writes; where a City or Country
database has no country for an address, `iptocc` still gives one. A trail holds few distinct
addresses and user agents, so both lookups are cached per value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import iptocc
from msgspec import Struct

from trailhound.cloudtrail.useragent import UserAgentInfo, UserAgentParser
from trailhound.errors import InputError

if TYPE_CHECKING:  # imported when a database is opened: most scans have none, and it is slow
    import maxminddb

_LANGUAGE: Final = "en"
# MaxMind's `database_type` names ("GeoLite2-City", "GeoIP2-ISP", ...) -> what a file is used for.
_ROLES: Final = (("asn", ("ASN", "ISP")), ("city", ("City",)), ("country", ("Country",)))


class AddressInfo(Struct, frozen=True):
    """`ip` is the address when it is an IP address, else None (and so is everything else)."""

    ip: str | None
    country_iso_code: str | None = None
    country_name: str | None = None
    continent_name: str | None = None
    region_name: str | None = None
    region_iso_code: str | None = None
    city_name: str | None = None
    as_number: int | None = None
    as_organization: str | None = None


NOT_AN_IP: Final = AddressInfo(ip=None)


class _Databases(Struct, frozen=True):
    place: maxminddb.Reader | None = None  # a City or Country database
    asn: maxminddb.Reader | None = None


class Enricher:
    """Looks up addresses and user agents; build it with `Enricher.create`."""

    def __init__(
        self,
        databases: _Databases,
        *,
        max_entries: int = 100_000,
        paths: tuple[Path, ...] = (),
    ) -> None:
        self._databases = databases
        self._max_entries = max_entries
        self._paths = paths
        self._addresses: dict[str, AddressInfo] = {}
        self._agents = UserAgentParser()

    def __reduce__(self) -> tuple[Any, ...]:
        # database readers cannot cross processes; the other process opens the same files
        return (_recreate, (self._paths, self._max_entries))

    @classmethod
    def create(cls, geoip: Sequence[Path] = ()) -> Enricher:
        """An enricher using the given MaxMind City, Country and ASN databases (any order)."""
        by_role: dict[str, maxminddb.Reader] = {}
        for path in geoip:
            reader = _open(path)
            kind = reader.metadata().database_type
            role = next((r for r, marks in _ROLES if any(m in kind for m in marks)), None)
            if role is None:
                raise InputError(f"unsupported GeoIP database type {kind!r}", where=str(path))
            by_role.setdefault(role, reader)
        # A City database answers everything a Country database does, and more.
        place = by_role.get("city") or by_role.get("country")
        return cls(_Databases(place=place, asn=by_role.get("asn")), paths=tuple(geoip))

    def address(self, address: str) -> AddressInfo:
        found = self._addresses.get(address)
        if found is None:
            if len(self._addresses) >= self._max_entries:
                self._addresses.clear()
            found = self._addresses[address] = self._look_up(address)
        return found

    def user_agent(self, original: str) -> UserAgentInfo:
        return self._agents.parse(original)

    def warm_up(self) -> None:
        """Load what the first lookups would load (the user-agent patterns), ahead of time."""
        self._agents.warm_up()

    def _look_up(self, address: str) -> AddressInfo:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return NOT_AN_IP
        place = self._place(ip)
        number, organization = self._asn(ip)
        return AddressInfo(address, **place, as_number=number, as_organization=organization)

    def _place(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> dict[str, str | None]:
        if self._databases.place is None:
            return {"country_iso_code": iptocc.country_code(str(ip))}
        found = _place_fields(_get(self._databases.place, ip))
        if found["country_iso_code"] is None:
            # a database with gaps (a partial or test one, or an older build) must not silence
            # the rules that read the country: where it knows nothing, the built-in lookup
            # answers as it would without any database
            found["country_iso_code"] = iptocc.country_code(str(ip))
        return found

    def _asn(
        self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    ) -> tuple[int | None, str | None]:
        if self._databases.asn is None:
            return None, None
        found = _get(self._databases.asn, ip)
        number = found.get("autonomous_system_number")
        organization = found.get("autonomous_system_organization")
        return (
            number if isinstance(number, int) else None,
            organization if isinstance(organization, str) else None,
        )


def _open(path: Path) -> maxminddb.Reader:
    import maxminddb

    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise InputError(f"cannot open GeoIP database: {exc}", where=str(path)) from None


def _get(
    reader: maxminddb.Reader, ip: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> Mapping[str, Any]:
    try:
        found = reader.get(ip)
    except ValueError:  # an IPv6 address against an IPv4-only database
        return {}
    return found if isinstance(found, Mapping) else {}


def _place_fields(found: Mapping[str, Any]) -> dict[str, str | None]:
    """The fields Elasticsearch's geoip processor writes by default, named as it names them."""
    country = _section(found, "country")
    subdivisions = found.get("subdivisions")
    # Elasticsearch reports the most specific subdivision: the last one.
    subdivision = subdivisions[-1] if isinstance(subdivisions, list) and subdivisions else {}
    country_code = _text(country, "iso_code")
    region_code = _text(subdivision, "iso_code")
    return {
        "country_iso_code": country_code,
        "country_name": _name(country),
        "continent_name": _name(_section(found, "continent")),
        "region_name": _name(subdivision),
        "region_iso_code": f"{country_code}-{region_code}"
        if country_code and region_code
        else None,
        "city_name": _name(_section(found, "city")),
    }


def _section(found: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = found.get(key)
    return value if isinstance(value, Mapping) else {}


def _name(section: Mapping[str, Any]) -> str | None:
    return _text(_section(section, "names"), _LANGUAGE)


def _text(section: Mapping[str, Any], key: str) -> str | None:
    value = section.get(key)
    return value if isinstance(value, str) else None


def _recreate(paths: tuple[Path, ...], max_entries: int) -> Enricher:
    made = Enricher.create(paths)
    made._max_entries = max_entries
    return made
