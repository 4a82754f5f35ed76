"""Bearer-key authentication: agent keys file requests, approver keys may also decide."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from bot.errors import Forbidden, Unauthenticated
from bot.service import Decider


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
        self._keys = [(secret.encode(), Caller(name, False)) for secret, name in agent_keys.items()]
        self._keys += [(secret.encode(), Caller(name, True)) for secret, name in approver_keys.items()]

    def identify(self, secret: str) -> Caller | None:
        # Compare against every key in constant time; never stop at the first match.
        given = secret.encode("utf-8", "replace")
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
