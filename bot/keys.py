"""Redis key names, all under one configurable prefix."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "cs:"

    def approval(self, approval_id: str) -> str:
        return f"{self.prefix}a:{approval_id}"

    def agent_index(self, agent: str) -> str:
        return f"{self.prefix}ag:{agent}"

    def idempotency(self, agent: str, key: str) -> str:
        # Hashed: a client string never becomes part of a key as such.
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return f"{self.prefix}idem:{agent}:{digest}"

    @property
    def pending(self) -> str:
        return f"{self.prefix}pending"

    @property
    def expiry(self) -> str:
        return f"{self.prefix}expiry"

    @property
    def all(self) -> str:
        return f"{self.prefix}all"

    @property
    def decided(self) -> str:
        """Decided requests by decision time (ms): the History page's order."""
        return f"{self.prefix}decided"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit"

    @property
    def audit_tail(self) -> str:
        return f"{self.prefix}audit:tail"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}outbox"

    @property
    def pending_by_level(self) -> str:
        return f"{self.prefix}stats:pending"

    @property
    def changes_channel(self) -> str:
        return f"{self.prefix}changes"

    def named(self, name: str) -> str:
        """A key for an adapter's own state (e.g. `slack:msg:<id>`), under the same prefix."""
        return f"{self.prefix}{name}"
