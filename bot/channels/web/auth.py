"""Sign-in for the dashboard: signed one-time magic links, Redis-held sessions and CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from bot.channels.common.signed import InvalidToken, SignedTokens
from bot.clock import to_ms
from bot.keys import Keys
from bot.policy import Policy
from bot.secrets import derive, signing_key
from bot.settings import Settings

LINK_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
SESSION_COOKIE = "cs_session"
PRE_COOKIE = "cs_pre"  # an anonymous cookie that CSRF tokens on sign-in forms are bound to
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$")


class LinkError(Exception):
    """A sign-in link that is forged, expired or already used; the message is shown to the person."""


def normalise_email(value: str) -> str | None:
    value = value.strip().lower()
    return value if _EMAIL.match(value) else None


def allowed_emails(policy: Policy, settings: Settings) -> set[str]:
    """Approvers named in the policy by email (or as a person with an email), plus COUNTERSIGN_WEB_USERS."""
    named = {a.lower() for level in policy.levels.values() for a in level.approvers}
    emails = {a for a in named if "@" in a[1:]}
    # Approvers named by person (`people:`): their email, and an approver named by another identity of theirs.
    emails |= {
        p.email.lower() for p in policy.people if p.email and {i.lower() for i in (*p.identities, p.name or "")} & named
    }
    emails |= {e.strip().lower() for e in settings.countersign_web_users.split(",") if e.strip()}
    return emails


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Session:
    token_hash: str
    email: str
    admin: bool
    csrf: str


class WebAuth:
    """Everything secret the dashboard signs or checks, on keys derived from the server's signing key."""

    def __init__(self, settings: Settings, redis: Redis, keys: Keys) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = keys
        self._master: bytes | None = None
        self._link_tokens: SignedTokens | None = None

    async def _key(self, purpose: str) -> bytes:
        return derive(await self._master_key(), purpose)

    async def _master_key(self) -> bytes:
        if self._master is None:
            self._master = await signing_key(self.settings, self.redis, self.keys)
        return self._master

    async def _links(self) -> SignedTokens:
        if self._link_tokens is None:
            self._link_tokens = SignedTokens(
                await self._master_key(),
                "web-login-link",
                self.redis,
                lambda nonce: self.keys.named(f"web:link:{hashlib.sha256(nonce.encode()).hexdigest()}"),
            )
        return self._link_tokens

    @property
    def secure_cookies(self) -> bool:
        return self.settings.countersign_public_url.startswith("https://")

    # -- magic links -----------------------------------------------------------------------------
    async def make_link(self, email: str, now: datetime, admin: bool = False) -> str:
        token = (await self._links()).issue(
            {"e": email, "n": secrets.token_urlsafe(16), "x": to_ms(now + LINK_TTL), "a": 1 if admin else 0}
        )
        return f"{self.settings.countersign_public_url}/login/{token}"

    async def read_link(self, token: str, now: datetime) -> tuple[str, bool, str]:
        """(email, admin, nonce) of a well-signed, unexpired link; does not consume it."""
        try:
            body = (await self._links()).read(token)
            email, admin, nonce, expires_ms = str(body["e"]), bool(body.get("a")), str(body["n"]), int(body["x"])
        except (InvalidToken, KeyError, TypeError, ValueError):
            raise LinkError("This sign-in link is not valid.") from None
        if to_ms(now) > expires_ms:
            raise LinkError("This sign-in link has expired; ask for a new one.")
        return email, admin, nonce

    async def consume_link(self, nonce: str) -> bool:
        """True the first time a link is used, False after (single use, across processes)."""
        return await (await self._links()).use(nonce, int(LINK_TTL.total_seconds()) + 60)

    async def allow_link_mail(self, email: str) -> bool:
        """At most 5 mailed links per address per 15 minutes."""
        key = self.keys.named(f"web:mailed:{hashlib.sha256(email.encode()).hexdigest()}")
        count = await self.redis.incr(key)
        if count == 1:
            await self.redis.expire(key, int(LINK_TTL.total_seconds()))
        return int(count) <= 5

    # -- sessions --------------------------------------------------------------------------------
    def _session_key(self, token_hash: str) -> str:
        return self.keys.named(f"web:session:{token_hash}")

    async def create_session(self, email: str, admin: bool) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        session = Session(token_hash, email, admin, secrets.token_urlsafe(32))
        await self.redis.set(
            self._session_key(token_hash),
            json.dumps({"email": email, "admin": admin, "csrf": session.csrf}),
            ex=int(SESSION_TTL.total_seconds()),
        )
        return token, session

    async def load_session(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        token_hash = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        raw = await self.redis.get(self._session_key(token_hash))
        if raw is None:
            return None
        body = json.loads(raw)
        return Session(token_hash, body["email"], bool(body.get("admin")), body["csrf"])

    async def end_session(self, session: Session) -> None:
        await self.redis.delete(self._session_key(session.token_hash))

    # -- CSRF for forms shown before sign-in -------------------------------------------------------
    async def pre_csrf(self, pre_cookie: str) -> str:
        return _b64(
            hmac.new(await self._key("web-pre-csrf"), pre_cookie.encode("utf-8", "replace"), hashlib.sha256).digest()
        )


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode("utf-8", "replace"))
