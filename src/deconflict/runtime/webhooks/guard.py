"""Where a webhook may be sent: plain http(s) to public addresses, judged in every notation.

A party names its webhook's URL and the hub POSTs to it. Unchecked, any party could make the hub
reach what only the hub can reach (its own loopback services, the cloud metadata service, the
private network it sits in) and learn from the outcome whether something answered there: an SSRF
oracle. So a URL is judged when it is set (:meth:`Destinations.check`, which resolves a name too)
and again at every delivery: its syntax before each request (:meth:`Destinations.target`), and
its addresses at each connection (:meth:`Destinations.addresses`, through which alone the
sender's network layer reaches an address: :mod:`deconflict.runtime.webhooks.net`). A name is
resolved once per connection, and the connection goes to the address that was checked, never to
a second lookup's answer, so a name rebound to loopback after its check (DNS rebinding) gains
nothing.

Refused (the IANA special-purpose registries, read strictly): loopback, link-local, private (RFC
1918, RFC 4193 unique local, the deprecated site-local), shared (100.64/10), multicast, broadcast,
unspecified, reserved (240/4, IETF protocol assignments, benchmarking, discard-only, anything
outside IPv6 global unicast 2000::/3), documentation addresses, and the cloud metadata services'
addresses, some of which are public (Azure's 168.63.129.16). An address embedded in IPv6 is
judged as the IPv4 address it reaches (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96,
SIIT); a 6to4 address is refused when its IPv4 part would be. An IPv4 host is read as a browser
and ``inet_aton`` read it (WHATWG URL): ``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``
are all 127.0.0.1. A name is IDNA-encoded (httpx), a trailing dot dropped, and must be plain
letters, digits and hyphens; a URL must have no userinfo, a port in 1-65535, and at most
:data:`MAX_URL_CHARS` characters.

The operator may allow networks (CIDRs, the ``webhook-allow-networks`` setting) for receivers on
a private network or on the hub's own host (tests); a metadata address stays refused even then.

What a refusal says depends on what the party wrote. For an address it wrote, the kind of address
(it knows the address already). For a name, one message whether the name does not resolve,
resolves to a refused address or to several of which one is refused: the answer tells nothing of
the hub's internal DNS. A refusal is decided before any connection, so it never depends on what
listens at the address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import httpx

from deconflict.errors import InvalidInput, RefusedDestination

__all__ = [
    "MAX_URL_CHARS",
    "Destinations",
    "IPAddress",
    "IPNetwork",
    "Resolve",
    "Target",
    "parse_networks",
    "refusal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: A name's addresses (empty when it does not resolve): ``await resolve(host, port)``.
Resolve = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

MAX_URL_CHARS = 2000
_SCHEMES = ("http", "https")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")
_OCTAL = frozenset("01234567")
_PUBLIC_ONLY = "webhooks are sent to public addresses only (or to networks the operator allows)"
_NAME_REFUSED = "the webhook URL's host must resolve, and only to public addresses: " + _PUBLIC_ONLY


def _table(*rows: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in rows)


# First match wins: narrower rows before the wider ones they sit in.
_REFUSED_V4 = _table(
    ("0.0.0.0/8", "an unspecified address"),
    ("10.0.0.0/8", "a private address (RFC 1918)"),
    ("100.64.0.0/10", "a shared address (RFC 6598)"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address (RFC 1918)"),
    ("192.0.0.0/24", "a reserved address (IETF protocol assignments)"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved address (6to4 relay anycast)"),
    ("192.168.0.0/16", "a private address (RFC 1918)"),
    ("198.18.0.0/15", "a reserved address (benchmarking)"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
)
_REFUSED_V6 = _table(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", "a reserved address (local-use NAT64)"),
    ("100::/64", "a reserved address (discard-only)"),
    ("2001:db8::/32", "a documentation address"),
    ("2001::/23", "a reserved address (IETF protocol assignments)"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a reserved address (SRv6)"),
    ("fc00::/7", "a private address (RFC 4193 unique local)"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a private address (site-local)"),
    ("ff00::/8", "a multicast address"),
)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")
#: The cloud metadata services (AWS, GCP, Azure, OpenStack, DigitalOcean at 169.254.169.254;
#: ECS task metadata; AWS over IPv6; GCP over IPv6; Alibaba; Azure's wire server; Oracle).
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "fd20:ce::254",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
    )
)


def parse_networks(given: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """The operator's allowed networks from CIDRs (a comma- or space-separated string, or an
    iterable of them); InvalidInput naming the one that is not a network."""
    items = given.replace(",", " ").split() if isinstance(given, str) else list(given)
    found = []
    for item in items:
        try:
            found.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise InvalidInput(
                f"webhook-allow-networks: {item!r} is not a network (CIDR)"
            ) from None
    return tuple(found)


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches (IPv4-mapped, -compatible, NAT64, SIIT)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    value = int(address)
    if value >> 32 == 0 and value > 1:  # IPv4-compatible (:: and ::1 are themselves)
        return ipaddress.IPv4Address(value)
    if address in _NAT64 or address in _SIIT:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def _plain(address: IPAddress) -> IPAddress:
    """``address`` without an IPv6 scope id (``fe80::1%eth0`` is ``fe80::1``)."""
    return address.__class__(int(address))


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why the hub may not send to ``address`` (e.g. "a loopback address"), or None. An
    address embedded in IPv6 is judged as the IPv4 address a connection reaches."""
    own = _plain(address)
    inner = _embedded(own) if isinstance(own, ipaddress.IPv6Address) else None
    reached: IPAddress = own if inner is None else inner
    if own in _METADATA or reached in _METADATA:
        return "a cloud metadata address"
    if any(reached.version == net.version and reached in net for net in allowed):
        return None
    table = _REFUSED_V4 if reached.version == 4 else _REFUSED_V6
    for network, reason in table:
        if reached in network:
            return reason if inner is None else f"{reason} (in IPv6)"
    if isinstance(reached, ipaddress.IPv6Address):
        if reached not in _GLOBAL_UNICAST:
            return "a reserved address (not IPv6 global unicast)"
        if reached.sixtofour is not None:
            relayed = refusal(reached.sixtofour, allowed)
            if relayed is not None:
                return f"{relayed} (in 6to4)"
    return None


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host as WHATWG URL (and ``inet_aton``) read it, or None."""
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, _HEX
    elif len(part) > 1 and part[0] == "0":
        digits, base, allowed = part[1:], 8, _OCTAL
    else:
        digits, base, allowed = part, 10, _DIGITS
    if not digits:
        return 0 if base != 10 else None
    if not set(digits.lower()) <= allowed:
        return None
    return int(digits, base)


def _ends_in_number(host: str) -> bool:
    last = host.rsplit(".", 1)[-1]
    if last and set(last) <= _DIGITS:
        return True
    return last[:2] in ("0x", "0X") and set(last[2:].lower()) <= _HEX


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` (ending in a number) as an IPv4 address in any of its notations, or None."""
    parts = host.split(".")
    if len(parts) > 4 or "" in parts:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    value = values[-1]
    for i, n in enumerate(values[:-1]):
        value += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL as the hub connects to it: ``host`` IDNA-encoded, in lower case, without a
    trailing dot; ``address`` when the host is an address (in any notation), else None."""

    url: httpx.URL
    host: str
    port: int
    address: IPAddress | None


def _refused(message: str) -> RefusedDestination:
    return RefusedDestination(message)


def target(url: str, allowed: Sequence[IPNetwork] = ()) -> Target:
    """``url`` as a :class:`Target` if its syntax and (for an address) its address may be sent
    to; RefusedDestination saying why not. A name is not resolved here."""
    if len(url) > MAX_URL_CHARS:
        raise _refused(f"the webhook URL is longer than {MAX_URL_CHARS} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise _refused(f"the webhook URL is not a valid URL ({error})") from None
    if parsed.scheme not in _SCHEMES:
        raise _refused("the webhook URL must be http or https")
    if parsed.userinfo:
        raise _refused("the webhook URL must not hold a user name or password")
    try:
        host = parsed.raw_host.decode("ascii").lower()
    except UnicodeDecodeError:  # pragma: no cover - httpx gives IDNA's ASCII
        raise _refused("the webhook URL's host is not a valid host name") from None
    host = host[:-1] if host.endswith(".") else host
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not host:
        raise _refused("the webhook URL has no host")
    if not 0 < port < 65536:
        raise _refused(f"the webhook URL's port {port} is not a port (1-65535)")
    address = _address(host)
    if address is not None:
        reason = refusal(address, allowed)
        if reason is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise _refused(f"{shown} is {reason}: {_PUBLIC_ONLY}")
    elif len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise _refused(f"the webhook URL's host {host!r} is not a valid host name")
    return Target(parsed, host, port, address)


def _address(host: str) -> IPAddress | None:
    """``host`` as an address if it is one (IPv6, or IPv4 in any notation); None for a name;
    RefusedDestination if it looks like an address and is not one."""
    if ":" in host:
        if "%" in host:
            raise _refused(f"{host} is an IPv6 address with a zone: {_PUBLIC_ONLY}")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise _refused(f"the webhook URL's host {host!r} is not an IPv6 address") from None
    if _ends_in_number(host):
        found = _ipv4(host)
        if found is None:
            raise _refused(f"the webhook URL's host {host!r} is not an IPv4 address")
        return found
    return None


@dataclass(frozen=True, slots=True)
class Destinations:
    """The webhook destinations this hub may send to: public addresses and ``allowed``, names
    resolved by ``resolve``."""

    resolve: Resolve
    allowed: tuple[IPNetwork, ...] = ()

    def for_party(self, party: str) -> Destinations:
        """These destinations, their names looked up as ``party``'s, where the resolver keeps
        each party to a few lookups at a time (``net.DnsResolver.for_party``)."""
        keyed = getattr(self.resolve, "for_party", None)
        return self if keyed is None else replace(self, resolve=keyed(party))

    def target(self, url: str) -> Target:
        """``url``'s syntax and address, checked without resolving (before each request)."""
        return target(url, self.allowed)

    async def check(self, url: str) -> Target:
        """``url`` checked as it is set: its syntax, and its address or every address its name
        resolves to; RefusedDestination saying why not."""
        found = self.target(url)
        if found.address is None:
            try:
                await self.addresses(found.host, found.port)
            except RefusedDestination:
                raise _refused(_NAME_REFUSED) from None
        return found

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for ``host`` (a name, resolved once, or an address),
        all of them allowed; RefusedDestination if it does not resolve or any is refused (one
        refused among public ones is no accident)."""
        name = host[:-1] if host.endswith(".") else host
        literal = _address(name.strip("[]").lower())
        found = [literal] if literal is not None else list(await self.resolve(name, port))
        if not found:
            raise _refused("the webhook URL's host does not resolve")
        for address in found:
            reason = refusal(address, self.allowed)
            if reason is not None:
                raise _refused(f"the webhook URL's host resolves to {reason}: {_PUBLIC_ONLY}")
        return found
