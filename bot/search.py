"""Finding requests: the filters every channel's lists use, and the one paging engine (bot/lua/search.lua)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Generic, TypeVar

from bot.errors import InvalidInput
from bot.models import Status
from bot.store import Store, StoredApproval, decode_cursor, encode_cursor

MAX_SCAN = 20_000  # a walk stops here; a page's count then says "at least"
DECIDED = "decided"  # a status filter: anything but pending
Item = TypeVar("Item")


@dataclass(frozen=True)
class Search:
    """What to look for. Empty strings match anything; times bound the filing time (ms, inclusive)."""

    status: str = ""  # '' any, 'decided', or one Status value
    level: str = ""
    agent: str = ""
    action: str = ""
    text: str = ""  # a substring of the stored request (action, arguments, context), as JSON holds it
    filed_from_ms: int | None = None
    filed_to_ms: int | None = None
    by_decision: bool = False  # walk the decided index: newest decision first, times bound the decision time


@dataclass
class SearchPage(Generic[Item]):
    items: list[Item]
    next_cursor: str | None
    matched: int = 0  # every match (up to MAX_SCAN) when counted, else 0
    truncated: bool = False  # the walk stopped at MAX_SCAN


def _needle(name: str, value: str) -> str:
    return f'"{name}":' + json.dumps(value, ensure_ascii=False) if value else ""


class Searcher:
    """Pages through a sorted index (pending, all, one agent's) newest first, filtering inside Redis."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._walk = store.redis.register_script(_lua("search.lua"))

    def index_for(self, search: Search) -> str:
        keys = self.store.keys
        if search.agent:
            return keys.agent_index(search.agent)
        if search.by_decision:
            return keys.decided
        return keys.pending if search.status == Status.pending.value else keys.all

    async def rows(
        self, search: Search, limit: int, cursor: str | None = None, *, count: bool = False, max_scan: int = MAX_SCAN
    ) -> tuple[list[tuple[str, int]], int, bool]:
        """([(id, filed ms)] of up to `limit` matches after the cursor, matched, truncated)."""
        max_score: int | None = search.filed_to_ms
        after_score, after_member = "", ""
        if cursor:
            try:
                score, after_member = decode_cursor(cursor)
            except (ValueError, UnicodeDecodeError):
                raise InvalidInput("the page cursor is not one this server issued", {"cursor": "invalid"}) from None
            after_score = str(score)
            if not count:  # nothing before the cursor needs counting: start the walk there
                max_score = score if max_score is None else min(max_score, score)
        text = json.dumps(search.text, ensure_ascii=False)[1:-1] if search.text else ""
        index = self.index_for(search)
        # The pending index holds exactly the pending requests (transitions leave it atomically): no need to
        # read each record's status, which keeps an unfiltered queue page to one range read.
        status = "" if index == self.store.keys.pending else search.status
        arg = {
            "prefix": self.store.keys.approval(""),
            "max_score": "+inf" if max_score is None else str(max_score),
            "min_score": "-inf" if search.filed_from_ms is None else str(search.filed_from_ms),
            "after_score": after_score,
            "after_member": after_member,
            "status": status,
            "level": search.level,
            "agent": search.agent,
            "agent_needle": _needle("agent", search.agent),
            "action": search.action,
            "action_needle": _needle("action", search.action),
            "text_needle": text,
            "limit": str(limit),
            "max_scan": str(max_scan),
            "count": "1" if count else "0",
        }
        raw: Any = await self._walk(keys=[index], args=[json.dumps(arg, ensure_ascii=False)])
        matched, truncated, flat = int(raw[0]), bool(int(raw[1])), raw[2:]
        rows = [(str(member), int(float(score))) for member, score in zip(flat[::2], flat[1::2], strict=True)]
        return rows, matched, truncated

    async def page(
        self, search: Search, limit: int, cursor: str | None = None, *, count: bool = False
    ) -> SearchPage[StoredApproval]:
        """Up to `limit` readable matches after the cursor. An unreadable record (logged by the store) or
        one whose retention ran out is passed over, and the walk goes on to fill the page."""
        items: list[StoredApproval] = []
        matched, truncated, walked = 0, False, 0
        first = True
        while True:
            need = limit - len(items)
            rows, counted, capped = await self.rows(search, need + 1, cursor, count=count and first)
            if first:
                matched, truncated, first = counted, capped, False
            more, rows = len(rows) > need, rows[:need]
            found, missing = await self.store.fetch([member for member, _ in rows])
            if missing:  # past retention: their index entries go as we meet them
                await self.store.redis.zrem(self.index_for(search), *missing)
            for member, filed_ms in rows:
                cursor = encode_cursor(filed_ms, member)
                record = found.get(member)
                if record and search.status in ("", DECIDED, record.approval.status.value):
                    items.append(record)
            walked += len(rows)
            if not more:
                return SearchPage(items, None, matched, truncated)
            if len(items) >= limit or walked >= limit * 20 + 1000:
                return SearchPage(items, cursor, matched, truncated)


def _lua(name: str) -> str:
    return resources.files("bot.lua").joinpath(name).read_text()
