"""The functions rule SQL needs that DuckDB does not have built in.

They run only on rows the cheaper conditions of a rule already let through, because DuckDB
evaluates a conjunction left to right on the surviving rows.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

import duckdb
import orjson
from duckdb import func, sqltypes

FLAT_UDF = "th_flat"  # (json_text, dotted_path) -> VARCHAR[]: Elastic flattened leaf values
CIDR_UDF = "th_in_cidr"  # (ip_text, cidr_text) -> BOOLEAN
IP_UDF = "th_ip_key"  # (ip_text) -> VARCHAR: `ip_key`, NULL for text that is no address
IP_TEXT_UDF = "th_ip_text"  # (ip_text) -> VARCHAR: `ip_text`


def ip_text(text: str | None) -> str | None:
    """An address as Elasticsearch shows an ip field's terms: an IPv4 address (also when it
    was written in its IPv4-mapped IPv6 form) or an IPv6 address compressed as RFC 5952 says.
    Text that is no address stays as written, so it still makes its own group."""
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None and not ip.scope_id:
        return str(ip.ipv4_mapped)
    return str(ip)


# Elasticsearch indexes every ip as 16 bytes, an IPv4 address as its IPv4-mapped IPv6 form
# (::ffff:a.b.c.d): that is the value its ip field compares, orders and matches networks by.
_V4_MAPPED = 0xFFFF_0000_0000


def ip_number(text: str) -> int | None:
    """The address as Elasticsearch's ip field holds it, a 128-bit number (IPv4 mapped into
    ::ffff:0:0/96), or None for text that is no address."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return int(ip) | _V4_MAPPED if ip.version == 4 else int(ip)


def ip_key(text: str | None) -> str | None:
    """`ip_number` as 32 hex digits, so that comparing the text compares the addresses:
    `10.0.0.9 < 10.0.0.100` and `::1 = 0:0::1`, as in Elasticsearch."""
    if not text:
        return None
    number = ip_number(text)
    return None if number is None else f"{number:032x}"


def flattened_values(text: str | None, path: str) -> list[str]:
    """Leaf values under a dotted path, as Elastic's flattened type sees them.

    Arrays are transparent, leaves are compared as strings (`true`, `25`), nulls are absent.
    An empty path means every leaf of the object.
    """
    if not text:
        return []
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    out: list[str] = []
    _collect(doc, path.split(".") if path else [], out)
    return out


def _collect(node: Any, path: list[str], out: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, path, out)
        return
    if not path:
        _leaves(node, out)
        return
    if isinstance(node, dict):
        # Keys may themselves contain dots; try the longest literal key first.
        for cut in range(len(path), 0, -1):
            key = ".".join(path[:cut])
            if key in node:
                _collect(node[key], path[cut:], out)


def _leaves(node: Any, out: list[str]) -> None:
    if node is None:
        return
    if isinstance(node, dict):
        for value in node.values():
            _leaves(value, out)
    elif isinstance(node, list):
        for item in node:
            _leaves(item, out)
    elif isinstance(node, bool):
        out.append("true" if node else "false")
    else:
        out.append(str(node))


@lru_cache(maxsize=4096)
def _network(cidr: str) -> tuple[int, int] | None:
    """The network as (first, last) address in `ip_number`'s 128-bit space, so an IPv4
    network holds the IPv4-mapped IPv6 spellings of its addresses, as in Elasticsearch."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    first = ip_number(str(net.network_address))
    last = ip_number(str(net.broadcast_address))
    assert first is not None and last is not None
    return first, last


def in_cidr(ip: str | None, cidr: str) -> bool:
    if not ip:
        return False
    net = _network(cidr)
    number = ip_number(ip)
    return net is not None and number is not None and net[0] <= number <= net[1]


def register(con: duckdb.DuckDBPyConnection) -> None:
    varchar = sqltypes.VARCHAR
    con.create_function(
        FLAT_UDF,
        flattened_values,
        [varchar, varchar],
        con.list_type(varchar),  # duckdb.list_type opens DuckDB's default database: 20 ms
        null_handling=func.SPECIAL,
    )
    con.create_function(
        CIDR_UDF, in_cidr, [varchar, varchar], sqltypes.BOOLEAN, null_handling=func.SPECIAL
    )
    con.create_function(IP_UDF, ip_key, [varchar], varchar, null_handling=func.SPECIAL)
    con.create_function(IP_TEXT_UDF, ip_text, [varchar], varchar, null_handling=func.SPECIAL)
