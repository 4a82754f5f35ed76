"""The server's master key (links, sessions, tokens, the audit chain's HMAC) and the keys derived from it.

COUNTERSIGN_SECRET_KEY when set; otherwise a random key generated once into a `0600` file in the data
directory. It is never kept in Redis: whoever can write to Redis must not also hold the key that proves the
audit trail was not rewritten (keys an older version kept in Redis are moved to the file)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from bot.datadir import private_dir, read_private, write_private
from bot.keys import Keys
from bot.settings import Settings

log = logging.getLogger(__name__)
KEY_FILE = "secret.key"
AUDIT_ALG = "hmac-sha256"
_warned_remote = False


def _key_file(settings: Settings) -> str:
    return str(settings.countersign_data_dir / KEY_FILE)


def existing_key(settings: Settings) -> bytes | None:
    """The master key if one exists (environment or key file); never creates one (offline verification)."""
    if settings.countersign_secret_key:
        return settings.countersign_secret_key.encode()
    path = settings.countersign_data_dir / KEY_FILE
    text = read_private(path) if path.parent.is_dir() else None
    return text.encode() if text else None


async def signing_key(settings: Settings, redis: Redis, keys: Keys) -> bytes:
    if settings.countersign_secret_key:
        return settings.countersign_secret_key.encode()
    path = private_dir(settings.countersign_data_dir) / KEY_FILE
    legacy_key = keys.named("secret")
    text = read_private(path)
    if text is None:
        legacy_text: Any = await redis.get(legacy_key)
        text = write_private(path, legacy_text or secrets.token_hex(32), replace=False)
        if legacy_text:
            log.warning("moved the generated secret key from Redis to %s", path)
    await redis.delete(legacy_key)  # a key left by an older version: the file holds it now
    _warn_if_shared(settings)
    return text.encode()


def _warn_if_shared(settings: Settings) -> None:
    global _warned_remote  # noqa: PLW0603 - once per process
    if settings.redis_url and not _warned_remote:
        _warned_remote = True
        log.warning(
            "COUNTERSIGN_SECRET_KEY is unset: using the key generated in %s. Every process that shares "
            "this Redis (servers, workers, other hosts) needs the same key: set COUNTERSIGN_SECRET_KEY "
            "on all of them",
            _key_file(settings),
        )


def derive(master: bytes, purpose: str) -> bytes:
    """A separate key per purpose (email links, web sessions, CSRF), so one cannot stand for another."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class AuditKey:
    """The audit chain's HMAC key: derived from the master key, passed to the Lua scripts per call, never
    stored in Redis. `kid` names it in each entry so a verifier can tell "another key" from "altered"."""

    key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> AuditKey:
        return cls(derive(master, "audit-chain"))

    @property
    def kid(self) -> str:
        return hmac.new(self.key, b"key-id", hashlib.sha256).hexdigest()[:16]

    def mac(self, message: str) -> str:
        return hmac.new(self.key, message.encode(), hashlib.sha256).hexdigest()

    @property
    def script_arg(self) -> str:
        """What audit.lua reads from the last ARGV: scheme, key id and key."""
        return f"{AUDIT_ALG}:{self.kid}:{self.key.hex()}"

    def __repr__(self) -> str:  # never print the key
        return f"AuditKey(kid={self.kid})"


async def audit_key(settings: Settings, redis: Redis, keys: Keys) -> AuditKey:
    return AuditKey.from_master(await signing_key(settings, redis, keys))
