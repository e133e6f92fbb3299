"""Which network addresses an outgoing request to an admin's URL may reach (webhooks), and resolving a name once.

The rule is judged on addresses, never on names: a name is resolved once, every answer is checked, and the
caller connects to a checked answer itself, so a second DNS answer (rebinding) cannot lead elsewhere.
"""
from __future__ import annotations

import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address, ip_network

IPAddress = IPv4Address | IPv6Address

# Ranges the stdlib's properties do not name (or name differently across Python versions).
_THIS_NETWORK = [ip_network("0.0.0.0/8")]
_CGNAT = [ip_network("100.64.0.0/10")]
_RFC1918 = [ip_network("10.0.0.0/8"), ip_network("172.16.0.0/12"), ip_network("192.168.0.0/16")]
_UNIQUE_LOCAL = [ip_network("fc00::/7")]
_BENCHMARKING = [ip_network("198.18.0.0/15"), ip_network("2001:2::/48")]
_DOCUMENTATION = [ip_network("192.0.2.0/24"), ip_network("198.51.100.0/24"), ip_network("203.0.113.0/24"),
                  ip_network("2001:db8::/32"), ip_network("3fff::/20")]
# IETF protocol assignments (Python 3.11 counts only its first /29 as not global), the retired 6to4 relay anycast.
_SPECIAL_USE = [ip_network("192.0.0.0/24"), ip_network("192.88.99.0/24")]
# Cloud metadata services that sit inside ranges WEBHOOK_ALLOW_PRIVATE opens (AWS's IPv6 one, Alibaba's).
_METADATA = [ip_network("fd00:ec2::254/128"), ip_network("100.100.100.200/32")]
# IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-compatible, NAT64 (well-known, local-use).
_LOW_32_BITS = [ip_network("::/96"), ip_network("64:ff9b::/96"), ip_network("64:ff9b:1::/96")]


def refusal(address: str | IPAddress, allow_private: bool = False) -> str | None:
    """Why a request may not go to address (a short phrase naming the range), or None when it may.

    allow_private opens the company's own network: loopback, RFC 1918, carrier-grade NAT, unique- and
    site-local. Link-local (where cloud metadata answers), multicast, reserved, documentation and
    benchmarking ranges stay refused. An IPv6 address that embeds an IPv4 one is judged by that IPv4 address.
    """
    ip = ipaddress.ip_address(address)
    embedded = _embedded_ipv4(ip)
    if embedded:
        for inner in embedded:
            why = refusal(inner, allow_private)
            if why:
                return f"embeds {inner}, {why}"
        return None
    if ip.is_unspecified or _within(ip, _THIS_NETWORK):
        return "unspecified"
    if ip.is_link_local:
        return "link-local, where cloud metadata services answer"
    if _within(ip, _METADATA):
        return "a cloud metadata service"
    if ip.is_multicast:
        return "multicast"
    if _within(ip, _DOCUMENTATION):
        return "reserved for documentation"
    if _within(ip, _BENCHMARKING):
        return "reserved for benchmarking"
    private = _private_kind(ip)
    if private:
        return None if allow_private else private
    if ip.is_reserved or ip.is_private or not ip.is_global or _within(ip, _SPECIAL_USE):
        return "reserved for special use"
    return None


def resolve(host: str) -> list[str]:
    """Every address host resolves to, in the resolver's order; raises OSError (socket.gaierror) when none."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _within(ip: IPAddress, networks) -> bool:
    return any(ip in n for n in networks)


def _private_kind(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if _within(ip, _RFC1918):
        return "private"
    if _within(ip, _CGNAT):
        return "carrier-grade NAT (100.64.0.0/10)"
    if _within(ip, _UNIQUE_LOCAL):
        return "unique-local"
    if ip.version == 6 and ip.is_site_local:
        return "site-local"
    return None


def _embedded_ipv4(ip: IPAddress) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 one stands for (mapped, compatible, 6to4, NAT64, Teredo's server and client)."""
    if ip.version == 4 or int(ip) <= 1:  # :: and ::1 are themselves, not IPv4-compatible 0.0.0.0 and 0.0.0.1
        return []
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip.sixtofour:
        return [ip.sixtofour]
    if ip.teredo:
        return list(ip.teredo)
    if _within(ip, _LOW_32_BITS):
        return [IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []
