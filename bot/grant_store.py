"""Where standing grants live in Redis (`grant:<id>`, `grants`, `grants:ver`), and the cached index of live
ones that intake matches against: re-read only when the version a create or revoke bumps has moved."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from typing import Any

from redis.asyncio import Redis

from bot.clock import to_ms
from bot.grants import Grant, GrantIndex, parse_grant
from bot.jsonutil import canonical
from bot.keys import Keys
from bot.models import Actor, ApprovalCreate
from bot.policy import Classification, Policy
from bot.store import OUTBOX_MAXLEN, Entry, Store, _script


def _fields(raw: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in raw.items()}  # the runtime's client decodes replies


def _plain_script(name: str) -> str:
    return resources.files("bot.lua").joinpath(name).read_text()


VERSION_CHECK_S = 1.0
GrantCheck = Callable[[Grant], Awaitable[bool]]  # True: this grant may not approve this request


class GrantBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis: Redis = store.redis
        self.keys: Keys = store.keys
        self._create = self.redis.register_script(_script("grant_create.lua"))
        self._revoke = self.redis.register_script(_script("grant_revoke.lua"))
        self._use = self.redis.register_script(_plain_script("grant_use.lua"))
        self._index: GrantIndex = GrantIndex([])
        self._version: Any = None
        self._checked_at = 0.0

    def key(self, grant_id: str) -> str:
        return self.keys.named(f"grant:{grant_id}")

    @property
    def all_key(self) -> str:
        return self.keys.named("grants")

    @property
    def version_key(self) -> str:
        return self.keys.named("grants:ver")

    async def create(self, grant: Grant, entry: Entry, created_ms: int, expires_ms: int) -> None:
        document = grant.model_dump(
            mode="json",
            by_alias=True,
            exclude_none=True,
            exclude={"uses", "failures", "revoked_at", "revoked_by", "revoked_reason"},
        )
        await self._create(
            keys=[self.key(grant.id), self.all_key, self.version_key, self.keys.audit, self.keys.audit_tail],
            args=[
                grant.id,
                canonical(document),
                created_ms,
                expires_ms,
                "" if grant.max_uses is None else grant.max_uses,
                entry.body,
                entry.sha,
                await self.store.chain_arg(),
            ],
        )
        self.forget_index()

    async def get(self, grant_id: str) -> Grant | None:
        fields = _fields(await self.redis.hgetall(self.key(grant_id)))
        return parse_grant(fields) if fields.get("doc") else None

    async def all(self) -> list[Grant]:
        """Every grant, newest first."""
        raw: list[Any] = await self.redis.zrevrange(self.all_key, 0, -1)
        ids = [str(i) for i in raw]  # the runtime's client decodes replies
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for grant_id in ids:
                pipe.hgetall(self.key(grant_id))
            rows: list[Any] = await pipe.execute()
        return [parse_grant(fields) for row in rows if (fields := _fields(row)).get("doc")]

    async def index(self) -> GrantIndex:
        """The live grants (not revoked; uses, expiry and revocation are checked again, atomically, when a use
        is taken). The version is re-read at most every VERSION_CHECK_S: a grant another process created
        applies within that time; this process's own creates and revokes apply at once."""
        now = time.monotonic()
        if self._version is not None and now - self._checked_at < VERSION_CHECK_S:
            return self._index
        version = await self.redis.get(self.version_key) or b"0"
        self._checked_at = now
        if version != self._version:
            self._index = GrantIndex([grant for grant in await self.all() if grant.revoked_at is None])
            self._version = version
        return self._index

    def forget_index(self) -> None:
        self._version = None

    async def take_first(
        self,
        agent: str,
        request: ApprovalCreate,
        result: Classification,
        policy: Policy,
        now: datetime,
        refuse: GrantCheck | None = None,
    ) -> Grant | None:
        """The first live grant covering this request whose use could be taken (taken, atomically) and that
        `refuse` does not refuse (its creator is the requester); None if none. A level that needs more than one
        person's approval (quorum) is never granted."""
        if result.route.quorum > 1:
            return None
        index = await self.index()
        if not index.grants:
            return None
        for grant in index.matching(agent, request.action, request.args, request.sql, result.level, policy, now):
            if refuse is not None and await refuse(grant):
                continue
            if await self.take(grant.id, to_ms(now)):
                return grant
        return None

    async def take(self, grant_id: str, now_ms: int) -> bool:
        return int(await self._use(keys=[self.key(grant_id)], args=[now_ms])) > 0

    async def give_back(self, grant_id: str) -> None:
        """Return a use taken for a request that was not filed after all (an idempotent repeat)."""
        await self.redis.hincrby(self.key(grant_id), "uses", -1)

    async def count_failure(self, grant_id: str) -> int:
        return int(await self.redis.hincrby(self.key(grant_id), "fails", 1))

    async def revoke(self, grant_id: str, revocation: dict[str, Any], entry: Entry) -> int:
        """1 revoked now, 0 already revoked, -1 no such grant."""
        self.forget_index()
        return int(
            await self._revoke(
                keys=[self.key(grant_id), self.version_key, self.keys.audit, self.keys.audit_tail, self.keys.outbox],
                args=[
                    json.dumps(revocation),
                    entry.body,
                    entry.sha,
                    grant_id,
                    OUTBOX_MAXLEN,
                    await self.store.chain_arg(),
                ],
            )
        )


class Outcomes:
    """What agents report after running an approved request: the approval's `out` field, written once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._record = store.redis.register_script(_script("outcome.lua"))

    async def record(self, approval_id: str, outcome: dict[str, Any], entry: Entry) -> int:
        """1 recorded, 0 already reported, -1 no such approval."""
        k = self.store.keys
        return int(
            await self._record(
                keys=[k.approval(approval_id), k.audit, k.audit_tail, k.outbox],
                args=[
                    canonical(outcome),
                    entry.body,
                    entry.sha,
                    approval_id,
                    k.changes_channel,
                    OUTBOX_MAXLEN,
                    await self.store.chain_arg(),
                ],
            )
        )


def grant_actor(grant: Grant) -> Actor:
    """Who decided a request a grant approved: the grant, by its id, named for the person who created it."""
    return Actor(channel="grant", id=grant.id, name=grant.created_by.name or grant.created_by.id)


def grant_comment(grant: Grant) -> str:
    return f"standing grant {grant.id}" + (f": {grant.reason}" if grant.reason else "")
