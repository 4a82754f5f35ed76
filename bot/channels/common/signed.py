"""The one signed-token helper: email approve/reject links and dashboard sign-in links.

A token is a JSON claim signed with itsdangerous (HMAC-SHA256) under a key derived from the server's signing
key for one purpose only (a token made for one purpose never verifies for another). Single use is a Redis SET NX on the
claim's nonce. What a claim holds and when it expires is the caller's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from redis.asyncio import Redis

from bot.secrets import derive


class InvalidToken(Exception):
    """Forged, altered, or not a claim at all."""


class SignedTokens:
    def __init__(
        self, master_key: bytes, purpose: str, redis: Redis, used_key: Callable[[str], str], accept_sha1: bool = False
    ) -> None:
        key = derive(master_key, purpose)
        self._serializer = URLSafeSerializer(key, salt=purpose, signer_kwargs={"digest_method": hashlib.sha256})
        # Email links mailed before this helper existed were signed with itsdangerous' default (HMAC-SHA1):
        # they are still read, so that mail already in inboxes keeps working; new ones are never issued so.
        self._older = URLSafeSerializer(key, salt=purpose) if accept_sha1 else None
        self.redis = redis
        self._used_key = used_key

    def issue(self, claim: dict[str, Any]) -> str:
        return str(self._serializer.dumps(claim))

    def read(self, token: str) -> dict[str, Any]:
        """The claim of a well-signed token (expiry and use are the caller's to check)."""
        claim = self._loads(self._serializer, token)
        if claim is None and self._older is not None:
            claim = self._loads(self._older, token)
        if not isinstance(claim, dict):
            raise InvalidToken
        return claim

    @staticmethod
    def _loads(serializer: URLSafeSerializer, token: str) -> Any:
        try:
            return serializer.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            return None

    async def is_used(self, nonce: str) -> bool:
        return bool(await self.redis.exists(self._used_key(nonce)))

    async def use(self, nonce: str, ttl_s: int, value: str = "1") -> bool:
        """True the first time (atomically, across processes); False once used."""
        return bool(await self.redis.set(self._used_key(nonce), value, nx=True, ex=max(1, ttl_s)))
