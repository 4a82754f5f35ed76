"""The queue and history pages' filters: read from a query string or form, and turned into the service's
Search (the paging engine is the core's, bot/search.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import to_ms
from bot.errors import InvalidInput
from bot.models import RiskLevel
from bot.search import Search

AGES: dict[str, tuple[timedelta | None, timedelta | None]] = {
    # label: (newer than, older than)
    "": (None, None),
    "lt15m": (timedelta(minutes=15), None),
    "lt1h": (timedelta(hours=1), None),
    "lt24h": (timedelta(hours=24), None),
    "gt1h": (None, timedelta(hours=1)),
    "gt24h": (None, timedelta(hours=24)),
}
AGE_LABELS = {
    "": "any age",
    "lt15m": "newer than 15 min",
    "lt1h": "newer than 1 h",
    "lt24h": "newer than 24 h",
    "gt1h": "older than 1 h",
    "gt24h": "older than 24 h",
}
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
            raise InvalidInput(f"{name} must be a date like 2026-01-31", {name: "not a YYYY-MM-DD date"}) from None
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
    return Filters(
        level=level,
        agent=_text(values, "agent"),
        action=_text(values, "action"),
        age=age,
        status=status,
        since=_date(values, "since"),
        until=_date(values, "until"),
    )


def to_search(filters: Filters, now: datetime, status: str, upto_ms: int | None = None) -> Search:
    """The page's filters as a Search: ages and dates become bounds on the filing time."""
    newer, older = AGES[filters.age]
    candidates_to = [
        to_ms(now - older) if older else None,
        upto_ms,
        day_ms(filters.until) + 86_400_000 - 1 if filters.until else None,
    ]
    candidates_from = [to_ms(now - newer) if newer else None, day_ms(filters.since) if filters.since else None]
    filed_to = min((v for v in candidates_to if v is not None), default=None)
    filed_from = max((v for v in candidates_from if v is not None), default=None)
    return Search(
        status=status,
        level=filters.level,
        agent=filters.agent,
        action=filters.action,
        filed_from_ms=filed_from,
        filed_to_ms=filed_to,
    )


def day_ms(day: str) -> int:
    return to_ms(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC))


__all__ = ["AGES", "AGE_LABELS", "Filters", "parse_filters", "to_search"]
