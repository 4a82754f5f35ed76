"""Where an agent's callback may go: URL parsing, address classes and COUNTERSIGN_CALLBACK_ALLOW.

Everything here is pure except `lookup`, which asks the system resolver on a small thread pool of its own
(a slow DNS server then holds those threads, not the event loop or the pool other work runs on).
URLs are read with yarl, the parser aiohttp itself uses to connect, so the host checked is the host dialled."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from yarl import URL

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Lookup = Callable[[str, int], Awaitable[list[IPAddress]]]
INTAKE_LOOKUP_TIMEOUT_S = 2.0

# Never "public", whatever Python's version thinks of is_global: loopback, RFC 1918, CGNAT, link-local,
# documentation, benchmarking, IETF, 6to4-relay, multicast, reserved, broadcast, "this network".
_BLOCKED_V4 = tuple(
    ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
# ::/96 holds ::, ::1 and the deprecated IPv4-compatible form; 2001::/23 holds Teredo (whose client address
# is obfuscated, so it is refused whole); plus discard, documentation, local NAT64, ULA, link- and site-local,
# multicast and SRv6 SIDs. IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 are judged by the IPv4 inside.
_BLOCKED_V6 = tuple(
    ip_network(n)
    for n in (
        "::/96",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "64:ff9b:1::/48",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "5f00::/16",
    )
)
_NAT64 = ip_network("64:ff9b::/96")
_NUMBER = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


class Refused(ValueError):
    """This URL may not be called back. The text describes the URL only, never the network: the same
    words whether a name does not resolve or resolves somewhere private (no internal-DNS oracle)."""


NOT_ALLOWED = "is not an allowed callback destination"


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    if inner is not None:
        return is_public(inner)
    blocked: Iterable[IPNetwork] = _BLOCKED_V4 if isinstance(address, IPv4Address) else _BLOCKED_V6
    if any(address in network for network in blocked):
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_private)


def legacy_ipv4(host: str) -> IPv4Address | None:
    """A host that ends in a number is an IPv4 address in inet_aton's spellings (`2130706433`, `0x7f.1`,
    `0177.0.0.1`, `127.1`, `0`), which the system resolver would accept; None for a name.
    Raises Refused for a numeric host no resolver reads the same way."""
    labels = host.lower().split(".")
    if not _NUMBER.match(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMBER.match(label) for label in labels):
        raise Refused("has a host that is not a valid name or address")
    try:
        parts = [
            int(label[2:] or "0", 16)
            if label.startswith("0x")
            else int(label, 8)
            if len(label) > 1 and label.startswith("0")
            else int(label)
            for label in labels
        ]
    except ValueError:  # "08": not octal
        raise Refused("has a host that is not a valid name or address") from None
    *leading, last = parts
    if any(part > 255 for part in leading) or last >= 256 ** (4 - len(leading)):
        raise Refused("has a host that is not a valid name or address")
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return IPv4Address(value)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, no trailing dot; an address in its canonical spelling
    port: int
    address: IPAddress | None  # set when the URL names an address rather than a name


def parse_target(url: str) -> Target:
    """Read a callback URL as aiohttp would; refuse what is not plainly http(s)://name-or-address."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise Refused("is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise Refused("must be an http:// or https:// URL")
    if parsed.user is not None or parsed.password is not None:
        raise Refused("must not carry a user name or password")
    raw_host = parsed.host or ""
    host = raw_host.lower()
    if host.endswith("."):
        host = host[:-1]
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise Refused("has an invalid port") from None
    if ":" in host:  # yarl hands IPv6 literals over without their brackets
        if "%" in host:
            raise Refused("must not name an IPv6 zone")
        try:
            address: IPAddress | None = IPv6Address(host)
        except ValueError:
            raise Refused("has a host that is not a valid name or address") from None
        return Target(parsed.scheme, str(address), port, address)
    if not host or len(host) > 253 or not _NAME.match(host):
        raise Refused("has a host that is not a valid name or address")
    address = legacy_ipv4(host)
    return Target(parsed.scheme, str(address) if address else host, port, address)


def _entry(raw: str) -> IPNetwork | str:
    entry = raw.strip().lower()
    bare = entry.strip("[]").removesuffix(".")
    if ":" in bare or "/" in bare or _NUMBER.match(bare.rsplit(".", 1)[-1]):
        try:  # an address or CIDR, in its plain spelling only
            return ip_network(bare, strict=False)
        except ValueError:
            raise ValueError(f"{raw.strip()!r} is not an address or CIDR") from None
    if not re.fullmatch(r"[a-z0-9_*?-]+(?:\.[a-z0-9_*?-]+)*", bare):
        raise ValueError(f"{raw.strip()!r} is not a host name or glob")
    return bare


@dataclass(frozen=True)
class CallbackAllow:
    """COUNTERSIGN_CALLBACK_ALLOW: host globs the operator trusts wherever they resolve, and CIDRs of
    non-public addresses callbacks may reach. Public addresses are always allowed."""

    names: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> CallbackAllow:
        """`*.example.com,10.0.0.0/8,127.0.0.1` (a bare address is a /32 or /128). Raises ValueError."""
        entries = [_entry(chunk) for chunk in raw.split(",") if chunk.strip()]
        return cls(tuple(e for e in entries if isinstance(e, str)), tuple(e for e in entries if not isinstance(e, str)))

    def name_trusted(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.names)

    def address_allowed(self, address: IPAddress) -> bool:
        if is_public(address):
            return True
        candidates = [address] + [inner for inner in [embedded_ipv4(address)] if inner is not None]
        return any(a in network for a in candidates for network in self.networks if a.version == network.version)


_dns_pool: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    """Made per process: a worker forks its work horses, and a pool's threads do not survive a fork."""
    global _dns_pool
    if _dns_pool is None or _dns_pool[0] != os.getpid():
        _dns_pool = (os.getpid(), ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback-dns"))
    return _dns_pool[1]


async def lookup(host: str, port: int) -> list[IPAddress]:
    """Every address getaddrinfo gives for host (the same answer aiohttp's default resolver would get)."""
    loop = asyncio.get_running_loop()
    infos = await loop.run_in_executor(_pool(), partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM))
    return list(dict.fromkeys(ip_address(str(info[4][0]).partition("%")[0]) for info in infos))


async def allowed_addresses(
    host: str, port: int, allow: CallbackAllow, timeout_s: float, resolve: Lookup = lookup
) -> list[IPAddress]:
    """Resolve a name; every address must be allowed (unless the name itself is trusted), else Refused."""
    try:
        async with asyncio.timeout(timeout_s):
            addresses = await resolve(host, port)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        raise Refused(NOT_ALLOWED) from None
    if not addresses:
        raise Refused(NOT_ALLOWED)
    if not allow.name_trusted(host) and not all(allow.address_allowed(a) for a in addresses):
        raise Refused(NOT_ALLOWED)
    return addresses


async def check_callback_url(
    url: str, allow: CallbackAllow, timeout_s: float = INTAKE_LOOKUP_TIMEOUT_S, resolve: Lookup = lookup
) -> Target:
    """The intake check: the URL is well formed and leads only where the operator allows."""
    target = parse_target(url)
    if target.address is not None:
        if not allow.address_allowed(target.address):
            raise Refused(NOT_ALLOWED)
    elif not allow.name_trusted(target.host):
        await allowed_addresses(target.host, target.port, allow, timeout_s, resolve)
    return target
