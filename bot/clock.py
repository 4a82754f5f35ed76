"""Time and id sources, injected so that logic never reads the wall clock itself."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to (tests, benchmarks)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a trailing Z."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_last_id = 0


def new_id(prefix: str) -> str:
    """A sortable id: 48-bit millisecond time then 80 random bits, Crockford base32.

    Within one process ids only grow (as in monotonic ULIDs), so same-millisecond ids keep their order.
    """
    global _last_id
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    if value <= _last_id:
        value = _last_id + 1
    _last_id = value
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
