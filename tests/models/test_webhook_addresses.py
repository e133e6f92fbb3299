"""The webhook address rule, table by table: what a receiver's address may be, with and without the private setting."""
from __future__ import annotations

import ipaddress

import pytest

from models.webhooks import WebhookError, check_url


def teredo(server: str, client: str) -> str:
    """A Teredo address (2001::/32): the server's IPv4, then the client's with every bit inverted."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0x8000 << 48) | (0x1234 << 32)
    return str(ipaddress.IPv6Address(value | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)))


# Refused whatever the setting: nothing that answers there is a company's webhook receiver.
ALWAYS_REFUSED = [
    "0.0.0.0", "::",  # unspecified
    "0.1.2.3",  # "this network", 0.0.0.0/8
    "169.254.169.254", "169.254.1.1", "fe80::1",  # link-local, where cloud metadata answers
    "fd00:ec2::254", "100.100.100.200",  # cloud metadata inside ranges the setting opens
    "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",  # multicast
    "240.0.0.1", "255.255.255.255", "192.0.0.8",  # reserved, broadcast, IETF protocol assignments
    "198.18.0.1", "198.19.255.254", "2001:2::1",  # benchmarking
    "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "3fff::1",  # documentation
    "::ffff:169.254.169.254", "::ffff:0.0.0.0", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe",  # embedded forms
    "64:ff9b::c000:201", teredo("65.54.227.120", "169.254.169.254"), teredo("192.0.2.1", "8.8.8.8"),
    "64:ff9b:1:2:3::1",  # local-use NAT64 in a layout whose IPv4 address cannot be told
]
# Refused unless WEBHOOK_ALLOW_PRIVATE opens the company's own network.
PRIVATE = [
    "127.0.0.1", "127.8.8.8", "::1",  # loopback
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",  # RFC 1918
    "100.64.0.1", "100.127.255.254",  # carrier-grade NAT
    "fc00::1", "fd12:3456::1",  # unique-local
    "fec0::1",  # site-local (deprecated, still routed inside some networks)
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:100.64.0.1",  # IPv4-mapped
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible
    "2002:7f00:1::1", "2002:c0a8:101::", "2002:6440:1::",  # 6to4 of 127.0.0.1, 192.168.1.1, 100.64.0.1
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::a00:1",  # NAT64 of 127.0.0.1, 10.0.0.1
    teredo("65.54.227.120", "10.0.0.1"), teredo("65.54.227.120", "127.0.0.1"),  # Teredo clients
]
PUBLIC = [
    "8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "2a00:1450:4001:81c::200e",
    "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808", teredo("65.54.227.120", "8.8.4.4"),
]


def url_of(address: str) -> str:
    return f"https://[{address}]/hooks" if ":" in address else f"https://{address}/hooks"


@pytest.fixture
def private_refused(monkeypatch):
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE", raising=False)


@pytest.fixture
def private_allowed(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.mark.parametrize("address", ALWAYS_REFUSED + PRIVATE)
def test_internal_and_special_addresses_are_refused(private_refused, address):
    with pytest.raises(WebhookError, match="internal address"):
        check_url(url_of(address))


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_the_private_setting_still_refuses_what_no_receiver_uses(private_allowed, address):
    with pytest.raises(WebhookError, match="internal address"):
        check_url(url_of(address))


@pytest.mark.parametrize("address", PRIVATE)
def test_the_private_setting_opens_the_company_network(private_allowed, address):
    assert check_url(url_of(address)) == url_of(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(private_refused, address):
    assert check_url(url_of(address)) == url_of(address)


def test_the_refusal_names_the_host_the_address_and_why(private_refused):
    with pytest.raises(WebhookError) as refused:
        check_url("https://[2002:6440:1::]/hooks")
    assert str(refused.value).startswith("2002:6440:1:: points at an internal address (")
    assert "100.64.0.1" in str(refused.value) and "carrier-grade NAT" in str(refused.value)
