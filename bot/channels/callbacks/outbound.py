"""Signed agent callbacks (`X-Countersign-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`),
sent only to addresses COUNTERSIGN_CALLBACK_ALLOW allows."""

from __future__ import annotations

import hashlib
import hmac
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.netpolicy import NOT_ALLOWED, CallbackAllow, Lookup, Refused, allowed_addresses, lookup, parse_target

HEADER = "X-Countersign-Signature"
TOLERANCE_S = 300


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, now: int, tolerance_s: int = TOLERANCE_S) -> bool:
    """What an agent does on receipt (see docs/escalation.md): constant-time, with a replay window."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature_header(secret, body, timestamp).partition(",v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def secret_for_agent(agent_keys: dict[str, str], agent: str) -> str | None:
    """Settings hold {secret: agent name}; the callback is signed with that agent's secret."""
    return next((secret for secret, name in agent_keys.items() if name == agent), None)


class DestinationRefused(OSError):
    """The callback's host resolves (now) where COUNTERSIGN_CALLBACK_ALLOW does not allow."""


class CheckedResolver(AbstractResolver):
    """aiohttp resolves through this and connects only to the addresses it returns, so the address checked
    is the address dialled: a name re-pointed at 127.0.0.1 after intake (DNS rebinding) is refused here."""

    def __init__(self, allow: CallbackAllow, resolve: Lookup = lookup, timeout_s: float = 5.0) -> None:
        self.allow, self._resolve, self.timeout_s = allow, resolve, timeout_s

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().removesuffix(".")
        try:
            addresses = await allowed_addresses(name, port, self.allow, self.timeout_s, self._resolve)
        except Refused as exc:
            raise DestinationRefused(f"{host} {exc}") from None
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def checked_session(allow: CallbackAllow, resolve: Lookup = lookup) -> aiohttp.ClientSession:
    """A client session that reaches only allowed addresses; no proxies from the environment, no DNS cache."""
    connector = aiohttp.TCPConnector(resolver=CheckedResolver(allow, resolve), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, trust_env=False)


def check_delivery_target(url: str, allow: CallbackAllow) -> None:
    """The delivery-time check of what needs no DNS (aiohttp dials a literal address without resolving)."""
    try:
        target = parse_target(url)
    except Refused as exc:
        raise DestinationRefused(str(exc)) from None
    if target.address is not None and not allow.address_allowed(target.address):
        raise DestinationRefused(f"{target.host} {NOT_ALLOWED}")
