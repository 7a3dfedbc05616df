"""Which IP addresses a server may fetch from: globally routable unicast only.

IPv4 private, loopback, link-local (cloud metadata), CGNAT, benchmarking, documentation,
multicast and reserved ranges are refused; IPv6 outside global unicast too, and IPv6
forms that carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4) are
judged by the IPv4 address inside.
"""

from __future__ import annotations

import ipaddress

__all__ = ["IPAddress", "embedded_ipv4", "is_public_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Not reachable from the public internet, or not a unicast host (RFC 6890 and successors).
_BLOCKED_V4 = tuple(
    _V4(net)
    for net in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_GLOBAL_UNICAST_V6 = _V6("2000::/3")  # everything else (ULA, link-local, multicast...) is out
_BLOCKED_V6 = tuple(
    _V6(net)
    for net in (
        "2001::/23",  # IETF protocol assignments, Teredo included
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)
# IPv6 forms that carry an IPv4 address in their low 32 bits: judged by that address.
_V4_IN_LOW_BITS = (
    _V6("::/96"),  # IPv4-compatible (deprecated); also :: and ::1, which embed 0.0.0.x
    _V6("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    _V6("64:ff9b::/96"),  # NAT64 well-known prefix
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a mapped, compatible, translated, NAT64 or 6to4 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _V4_IN_LOW_BITS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for a globally routable unicast address (the default address policy)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:  # a zone (`fe80::1%eth0`) only means something on a local link
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public_address(inner)
        return (
            ip in _GLOBAL_UNICAST_V6 and not any(ip in net for net in _BLOCKED_V6) and ip.is_global
        )
    return not any(ip in net for net in _BLOCKED_V4) and ip.is_global and not ip.is_multicast
