"""Where a webhook may be sent: every special-purpose address refused with its kind, the same
address refused in every notation, public addresses and the operator's networks accepted, a
metadata address never; a name refused if any address it resolves to is."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.api.webhook_harness import PUBLIC, Names

from deconflict.errors import InvalidInput, RefusedDestination
from deconflict.runtime.webhooks.guard import Destinations, parse_networks, refusal, target

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.9.8.7", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("fdff:ffff::1", "private"),
        ("fec0::1", "private"),
        ("100.64.0.1", "shared"),
        ("100.127.255.254", "shared"),
        ("169.254.0.1", "link-local"),
        ("fe80::abcd", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::fb", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.19.0.1", "reserved"),
        ("100::1", "reserved"),
        ("2001::1", "reserved"),  # Teredo
        ("64:ff9b:1::1", "reserved"),
        ("4000::1", "reserved"),  # outside global unicast
        ("192.0.2.7", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.7", "documentation"),
        ("2001:db8::7", "documentation"),
        ("3fff::7", "documentation"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("168.63.129.16", "metadata"),
        ("192.0.0.192", "metadata"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "metadata"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("::10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("64:ff9b::c0a8:1", "private"),
        ("::ffff:0:7f00:1", "loopback"),  # SIIT
        ("2002:7f00:1::1", "loopback"),  # 6to4
        ("2002:a9fe:101::1", "link-local"),
    ],
)
def test_every_special_purpose_address_is_refused_with_its_kind(address, kind):
    """The refusal names the kind of address, also embedded in IPv6."""
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        PUBLIC,
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "100.63.255.255",
        "100.128.0.0",
        "172.32.0.1",
        "223.255.255.255",
    ],
)
def test_public_addresses_are_not_refused(address):
    """Public addresses, and those that reach one (mapped, NAT64, 6to4), may be sent to;
    the neighbours of refused ranges too."""
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_operator_s_networks_are_allowed_but_never_a_metadata_address():
    """An allowed network is sent to (embedded in IPv6 too); a metadata address inside an
    allowed network stays refused."""
    allowed = parse_networks("127.0.0.1/32, 10.0.0.0/8 169.254.0.0/16")
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("::ffff:10.2.3.4"), allowed) is None
    assert refusal(ipaddress.ip_address("127.0.0.2"), allowed) == "a loopback address"
    assert refusal(ipaddress.ip_address("169.254.1.1"), allowed) is None
    assert refusal(ipaddress.ip_address("169.254.169.254"), allowed) == "a cloud metadata address"


def test_a_network_that_is_none_is_named():
    """A bad CIDR in the operator's setting is an error naming it."""
    with pytest.raises(InvalidInput, match=r"'10\.0\.0\.0/33'"):
        parse_networks("10.0.0.0/8,10.0.0.0/33")


def _notations(value: int) -> list[str]:
    """Ways to write the IPv4 address ``value`` that browsers and ``inet_aton`` accept."""
    a, b, c, d = value.to_bytes(4, "big")
    return [
        str(value),
        hex(value),
        "0" + oct(value)[2:],
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{hex(a)}.{oct(b).replace('o', '')}.{c}.{hex(d).upper().replace('X', 'x')}",
        f"{a}.{b}.{c}.{d}.",
    ]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_an_ipv4_address_is_judged_the_same_in_every_notation(value):
    """Each notation of an address is that address, refused (or not) as its dotted form is."""
    address = ipaddress.IPv4Address(value)
    expected = refusal(address)
    for written in _notations(value):
        if expected is None:
            assert target(f"http://{written}/hook").address == address
        else:
            with pytest.raises(RefusedDestination, match=re.escape(expected)):
                target(f"http://{written}/hook")


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.0x100",
        "09.1.1.1",
        "0x",
        "1.2.65536",
        "4294967296",
        "exa_mple.com",
        "-a.com",
        "a..b",
        ("a" * 64) + ".com",
    ],
)
def test_hosts_that_are_neither_an_address_nor_a_name_are_refused(host):
    """Something that looks like an IPv4 address and is none, or a name with characters or
    labels no host name has, is refused (not looked up)."""
    with pytest.raises(RefusedDestination):
        target(f"https://{host}/hook")


async def test_a_name_is_refused_if_any_address_it_resolves_to_is():
    """A name resolving to public addresses only is accepted; with one refused address among
    them, or none at all, it is refused with one message that says nothing of which."""
    names = Names({"ok.example": [PUBLIC, "2606:4700::1"], "mixed.example": [PUBLIC, "10.0.0.1"]})
    checks = Destinations(names)
    assert (await checks.check("https://ok.example/h")).host == "ok.example"
    messages = set()
    for host in ("mixed.example", "nowhere.example"):
        with pytest.raises(RefusedDestination) as refused:
            await checks.check(f"https://{host}/h")
        messages.add(str(refused.value))
    assert len(messages) == 1
    assert await checks.addresses("ok.example.", 443) == [
        ipaddress.ip_address(PUBLIC),
        ipaddress.ip_address("2606:4700::1"),
    ]
    with pytest.raises(RefusedDestination, match="private"):
        await checks.addresses("mixed.example", 443)
