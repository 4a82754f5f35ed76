"""The server's signing key for links, sessions and tokens, shared by every process on one Redis."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from redis.asyncio import Redis

from bot.keys import Keys
from bot.settings import Settings


async def signing_key(settings: Settings, redis: Redis, keys: Keys) -> bytes:
    """COUNTERSIGN_SECRET_KEY when set; otherwise a random key created once and kept in Redis."""
    if settings.countersign_secret_key:
        return settings.countersign_secret_key.encode()
    key = keys.named("secret")
    await redis.set(key, secrets.token_hex(32), nx=True)
    value = await redis.get(key)
    return value if isinstance(value, bytes) else str(value).encode()


def derive(master: bytes, purpose: str) -> bytes:
    """A separate key per purpose (email links, web sessions, CSRF), so one cannot stand for another."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()
