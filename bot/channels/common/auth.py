"""Bearer-key authentication: agent keys file requests, approver keys may also decide.
Repeated failures from one address are refused by `bot.channels.common.guard.auth_failure_limit`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web

from bot.errors import Forbidden, Unauthenticated
from bot.service import Decider


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "replace")).digest()


def same_secret(expected: str, given: str) -> bool:
    """Constant time, length included: both sides are hashed before the comparison."""
    return hmac.compare_digest(_digest(expected), _digest(given))


def bearer_matches(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and same_secret(token, given.strip())


@dataclass(frozen=True)
class Caller:
    name: str
    approver: bool

    @property
    def decider(self) -> Decider:
        """An approver key decides as a trusted tool: any request, recorded as channel `api`, by its name."""
        return Decider(channel="api", id=self.name, name=self.name, admin=True)


class KeyRing:
    def __init__(self, agent_keys: dict[str, str], approver_keys: dict[str, str]) -> None:
        # Digests, not the keys: equal lengths, so the comparison does not even reveal a key's length.
        self._keys = [(_digest(secret), Caller(name, False)) for secret, name in agent_keys.items()]
        self._keys += [(_digest(secret), Caller(name, True)) for secret, name in approver_keys.items()]

    def identify(self, secret: str) -> Caller | None:
        # Compare against every key in constant time; never stop at the first match.
        given = _digest(secret)
        found = None
        for known, caller in self._keys:
            if hmac.compare_digest(known, given):
                found = caller
        return found

    def caller(self, request: web.Request) -> Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("missing bearer key: send Authorization: Bearer <key>")
        caller = self.identify(secret.strip())
        if caller is None:
            raise Unauthenticated("unknown API key")
        return caller

    def approver(self, request: web.Request) -> Caller:
        caller = self.caller(request)
        if not caller.approver:
            raise Forbidden("an agent key cannot decide; use an approver key")
        return caller


# The app's key ring: the agent API and the HumanLayer-compatible routes authenticate with it.
KEYRING = web.AppKey("keyring", KeyRing)
