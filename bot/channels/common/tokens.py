"""Email link tokens: signed, expiring, single-use, bound to one request, one recipient, one outcome."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from bot.channels.common.signed import InvalidToken, SignedTokens
from bot.keys import Keys

PURPOSE = "email-links"
# A link outlives the request's expiry a little so that a late click gets "already decided", not "expired".
GRACE = timedelta(hours=1)


class BadToken(Exception):
    def __init__(self, reason: str, claim: LinkClaim | None = None) -> None:  # forged | expired | used
        super().__init__(reason)
        self.reason = reason
        self.claim = claim  # known when the signature was good (expired, used): for the audit entry


@dataclass(frozen=True)
class LinkClaim:
    approval_id: str
    recipient: str
    outcome: str
    nonce: str
    expires_ts: int


class LinkTokens:
    def __init__(self, master_key: bytes, redis: Redis, keys: Keys) -> None:
        self.keys = keys
        self._tokens = SignedTokens(
            master_key, PURPOSE, redis, lambda nonce: keys.named(f"email:used:{nonce}"), accept_sha1=True
        )

    def issue(self, approval_id: str, recipient: str, outcome: str, expires_at: datetime) -> str:
        claim: dict[str, Any] = {
            "a": approval_id,
            "r": recipient.lower(),
            "o": outcome,
            "n": secrets.token_urlsafe(12),
            "e": int((expires_at + GRACE).timestamp()),
        }
        return self._tokens.issue(claim)

    def read(self, token: str, now: datetime) -> LinkClaim:
        """Check the signature and expiry (not use): for the confirm page and before consuming."""
        try:
            claim = self._tokens.read(token)
        except InvalidToken:
            raise BadToken("forged") from None
        if claim.get("o") not in ("approve", "reject"):
            raise BadToken("forged")
        try:
            parsed = LinkClaim(str(claim["a"]), str(claim["r"]), str(claim["o"]), str(claim["n"]), int(claim["e"]))
        except (KeyError, TypeError, ValueError):
            raise BadToken("forged") from None
        if now.timestamp() > parsed.expires_ts:
            raise BadToken("expired", parsed)
        return parsed

    async def is_used(self, claim: LinkClaim) -> bool:
        return await self._tokens.is_used(claim.nonce)

    async def consume(self, claim: LinkClaim, now: datetime) -> None:
        """Mark the token used, atomically: a second POST (or a race of two) raises BadToken('used')."""
        ttl = max(60, claim.expires_ts - int(now.timestamp()) + 60)
        if not await self._tokens.use(claim.nonce, ttl, now.isoformat()):
            raise BadToken("used", claim)
