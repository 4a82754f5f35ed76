"""Who someone is on Slack: user-group members (`usergroups.users.list`) and a user's email, cached."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
CACHE_TTL_S = 300.0


class Directory:
    def __init__(
        self,
        client: AsyncWebClient,
        ttl_s: float = CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, Any]] = {}

    def _cached(self, key: str) -> Any:
        hit = self._cache.get(key)
        if hit and hit[0] > self.monotonic():
            return hit[1]
        return None

    def _keep(self, key: str, value: Any) -> Any:
        self._cache[key] = (self.monotonic() + self.ttl_s, value)
        return value

    async def group_ids(self) -> dict[str, str]:
        """Handle (lower case, without @) → user-group ID; {} when Slack will not say (no usergroups:read)."""
        cached = self._cached("groups")
        if cached is not None:
            return dict(cached)
        try:
            response = await self.client.usergroups_list()
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            log.warning("usergroups.list failed: %s", exc)
            return {}
        listed: list[dict[str, Any]] = response.get("usergroups") or []
        groups = {str(g.get("handle", "")).lower(): str(g["id"]) for g in listed}
        return dict(self._keep("groups", groups))

    async def group_members(self, handle: str) -> set[str]:
        """Members (Slack user IDs) of `@handle`; empty if the group is unknown or Slack fails."""
        name = handle.removeprefix("@").lower()
        cached = self._cached(f"group:{name}")
        if cached is not None:
            return set(cached)
        group_id = (await self.group_ids()).get(name)
        if group_id is None:
            return set()
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("usergroups.users.list failed for @%s: %s", name, exc)
            return set()
        return set(self._keep(f"group:{name}", frozenset(response.get("users", []))))

    async def person(self, identity: str) -> frozenset[str]:
        """Every name Slack knows for a requester given as a Slack user ID (ID and email); else nothing."""
        if re.fullmatch(r"[UW][A-Z0-9]{2,20}", identity):
            return await self.identities(identity)
        return frozenset()

    async def identities(self, user_id: str) -> frozenset[str]:
        """The user's ID and, when Slack shares it, their email (policies may name approvers by email)."""
        cached = self._cached(f"user:{user_id}")
        if cached is not None:
            return frozenset(cached)
        found = {user_id}
        try:
            response = await self.client.users_info(user=user_id)
            email = (response.get("user") or {}).get("profile", {}).get("email")
            if email:
                found.add(str(email))
        except (SlackApiError, SlackClientError) as exc:
            log.info("users.info failed for %s (%s); deciding by Slack ID only", user_id, exc)
            return frozenset(found)  # not cached: try again next time
        return frozenset(self._keep(f"user:{user_id}", frozenset(found)))

    async def channel_named(self, name: str) -> str | None:
        """A `#name`'s channel ID from `conversations.list` (all pages, public and private the bot can see);
        None if Slack will not say or there is no such channel."""
        wanted = name.lstrip("#").lower()
        cached = self._cached("channel_ids")
        if cached is None:
            found: dict[str, str] = {}
            cursor: str | None = None
            try:
                while True:
                    response = await self.client.conversations_list(
                        types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
                    )
                    for channel in response.get("channels") or []:
                        found[str(channel.get("name", "")).lower()] = str(channel.get("id", ""))
                    cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                    if not cursor:
                        break
            except (SlackApiError, SlackClientError) as exc:
                log.warning("conversations.list failed: %s", exc)
                return None
            cached = self._keep("channel_ids", found)
        return dict(cached).get(wanted) or None

    async def channel_members(self, channel_id: str) -> frozenset[str] | None:
        """Members of a channel (`conversations.members`, all pages); None if Slack will not say."""
        cached = self._cached(f"members:{channel_id}")
        if cached is not None:
            return frozenset(cached)
        members: list[str] = []
        cursor: str | None = None
        try:
            while True:
                response = await self.client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
                members.extend(response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except (SlackApiError, SlackClientError) as exc:
            log.warning("conversations.members failed for %s: %s", channel_id, exc)
            return None
        return frozenset(self._keep(f"members:{channel_id}", frozenset(members)))
