"""Filtered, paged reads of the approval indexes for the queue and history pages (one Lua walk each)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from bot.clock import to_ms
from bot.errors import InvalidInput
from bot.models import RiskLevel, Status
from bot.store import Store, StoredApproval, decode_cursor, encode_cursor

MAX_SCAN = 20_000  # the walk stops here; the page says the count is "at least"
AGES: dict[str, tuple[timedelta | None, timedelta | None]] = {
    # label: (newer than, older than)
    "": (None, None),
    "lt15m": (timedelta(minutes=15), None),
    "lt1h": (timedelta(hours=1), None),
    "lt24h": (timedelta(hours=24), None),
    "gt1h": (None, timedelta(hours=1)),
    "gt24h": (None, timedelta(hours=24)),
}
AGE_LABELS = {"": "any age", "lt15m": "newer than 15 min", "lt1h": "newer than 1 h",
              "lt24h": "newer than 24 h",
              "gt1h": "older than 1 h", "gt24h": "older than 24 h"}
HISTORY_STATUSES = ("approved", "rejected", "expired", "cancelled")


@dataclass(frozen=True)
class Filters:
    level: str = ""
    agent: str = ""
    action: str = ""
    age: str = ""
    status: str = ""  # history only
    since: str = ""  # history only, YYYY-MM-DD
    until: str = ""

    @property
    def active(self) -> bool:
        return any((self.level, self.agent, self.action, self.age, self.status, self.since, self.until))

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _text(values: Mapping[str, Any], name: str, max_len: int = 200) -> str:
    raw = values.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters", {name: "too long"})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid text", {name: "invalid text"}) from None
    return value


def _date(values: Mapping[str, Any], name: str) -> str:
    value = _text(values, name, 10)
    if value:
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise InvalidInput(f"{name} must be a date like 2026-01-31",
                               {name: "not a YYYY-MM-DD date"}) from None
    return value


def parse_filters(values: Mapping[str, Any]) -> Filters:
    """Read filters from a query string or form; anything unknown is a clear 400, never a 500."""
    level = _text(values, "level")
    if level and level not in {lvl.value for lvl in RiskLevel}:
        known = ", ".join(lvl.value for lvl in RiskLevel)
        raise InvalidInput("unknown risk level", {"level": "one of " + known})
    age = _text(values, "age")
    if age not in AGES:
        raise InvalidInput("unknown age filter", {"age": "one of " + ", ".join(a for a in AGES if a)})
    status = _text(values, "status")
    if status and status not in HISTORY_STATUSES:
        raise InvalidInput("unknown status", {"status": "one of " + ", ".join(HISTORY_STATUSES)})
    return Filters(level=level, agent=_text(values, "agent"), action=_text(values, "action"), age=age,
                   status=status, since=_date(values, "since"), until=_date(values, "until"))


@dataclass
class Page:
    items: list[StoredApproval]
    matched: int
    truncated: bool
    next_cursor: str | None
    ids: list[str] = field(default_factory=list)


class Queries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._scan = store.redis.register_script(resources.files("bot.channels.web").joinpath("scan.lua").read_text())

    async def scan(self, index: str, filters: Filters, now: datetime, *, status: str, limit: int,
                   cursor: str | None = None, upto_ms: int | None = None,
                   max_scan: int = MAX_SCAN) -> tuple[list[tuple[str, int]], int, bool]:
        newer, older = AGES[filters.age]
        max_score = to_ms(now - older) if older else None
        min_score = to_ms(now - newer) if newer else None
        if filters.until:
            until_ms = day_ms(filters.until) + 86_400_000 - 1
            max_score = until_ms if max_score is None else min(max_score, until_ms)
        if filters.since:
            since_ms = day_ms(filters.since)
            min_score = since_ms if min_score is None else max(min_score, since_ms)
        if upto_ms is not None:
            max_score = upto_ms if max_score is None else min(max_score, upto_ms)
        after_score, after_member = "", ""
        if cursor:
            try:
                score, after_member = decode_cursor(cursor)
            except (ValueError, UnicodeDecodeError):
                raise InvalidInput("the page cursor is not one this server issued",
                                   {"cursor": "invalid"}) from None
            after_score = str(score)

        def needle(name: str, value: str) -> str:
            return f'"{name}":' + json.dumps(value, ensure_ascii=False) if value else ""

        raw = await self._scan(keys=[index], args=[
            self.store.keys.approval(""), "+inf" if max_score is None else max_score,
            "-inf" if min_score is None else min_score, after_score, after_member, status, filters.level,
            needle("agent", filters.agent), filters.agent, needle("action", filters.action), filters.action,
            limit, max_scan,
        ])
        matched, truncated, flat = int(raw[0]), bool(int(raw[1])), raw[2:]
        members = [str(m) for m in flat[::2]]
        rows = [(member, int(float(score))) for member, score in zip(members, flat[1::2], strict=True)]
        return rows, matched, truncated

    async def page(self, index: str, filters: Filters, now: datetime, *, status: str, limit: int,
                   cursor: str | None = None) -> Page:
        rows, matched, truncated = await self.scan(index, filters, now, status=status, limit=limit + 1,
                                                   cursor=cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        items = await self.store.get_many([member for member, _ in rows])
        next_cursor = encode_cursor(rows[-1][1], rows[-1][0]) if more and rows else None
        return Page(items, matched, truncated, next_cursor)

    async def matching_ids(self, index: str, filters: Filters, now: datetime, *, status: str, limit: int,
                           upto_ms: int | None) -> list[str]:
        rows, _, _ = await self.scan(index, filters, now, status=status, limit=limit, upto_ms=upto_ms)
        return [member for member, _ in rows[:limit]]


def day_ms(day: str) -> int:
    return to_ms(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC))


__all__ = ["AGES", "AGE_LABELS", "Filters", "Page", "Queries", "Status", "parse_filters"]
