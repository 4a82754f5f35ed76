"""The client's address (behind trusted proxies only) and the limit on failed bearer-key authentication."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import web

from bot.channels.common.errors import Handler, error_response
from bot.ratelimit import WindowLimit

Network = IPv4Network | IPv6Network
AUTH_FAILURES = web.AppKey("auth_failures", WindowLimit)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", list)


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(request: web.Request) -> str:
    """The socket's peer. Only when that peer is an operator-trusted proxy is `X-Forwarded-For` read, right
    to left, skipping trusted hops: anything left of the first untrusted hop was written by the client."""
    peer = request.remote or "unix"
    trusted: list[Network] = request.app.get(TRUSTED_PROXIES) or []
    if not trusted:
        return peer

    def is_trusted(text: str) -> bool:
        address = _parse(text)
        return address is not None and any(address in network for network in trusted)

    if not is_trusted(peer):
        return peer
    hops = [hop for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return peer  # a malformed hop: fall back to what the socket says
        if not is_trusted(str(address)):
            return str(address)
    return peer


def too_many(retry_after: int, what: str) -> web.Response:
    return error_response(
        429,
        "rate_limited",
        f"too many {what} from this address; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


@web.middleware
async def auth_failure_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A client address that failed bearer authentication too often in a minute is refused (429) before its
    key is even looked at: otherwise a correct guess would still get through and stand out."""
    limit = request.app.get(AUTH_FAILURES)
    if limit is None or "Authorization" not in request.headers:
        return await handler(request)
    address = client_address(request)
    if (retry_after := await limit.refused(address)) is not None:
        return too_many(retry_after, "failed authentications")
    response = await handler(request)
    if response.status == 401:
        await limit.hit(address)
    return response


def install_guard(app: web.Application, limit: WindowLimit, trusted: list[Network]) -> None:
    app[AUTH_FAILURES] = limit
    app[TRUSTED_PROXIES] = trusted
