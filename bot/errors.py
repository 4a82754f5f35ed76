"""Countersign's exceptions; each adapter maps them to its own reply in one place."""

from __future__ import annotations

from typing import Any


class CountersignError(Exception):
    code = "error"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(CountersignError):
    code = "invalid_input"


class Unauthenticated(CountersignError):
    code = "unauthenticated"


class Forbidden(CountersignError):
    """The caller is known but may not do this (agent key deciding, non-approver, self-approval)."""

    code = "forbidden"


class NotFound(CountersignError):
    code = "not_found"


class Conflict(CountersignError):
    """The request is no longer pending; carries the approval as it stands."""

    code = "conflict"

    def __init__(self, message: str, approval: Any = None) -> None:
        super().__init__(message)
        self.approval = approval


class TooManyRequests(CountersignError):
    """An agent is over one of its limits (COUNTERSIGN_AGENT_RATE, COUNTERSIGN_AGENT_MAX_PENDING)."""

    code = "rate_limited"

    def __init__(self, message: str, limit: str, retry_after_s: int) -> None:
        super().__init__(message, {"limit": limit})
        self.limit = limit
        self.retry_after_s = max(1, retry_after_s)


class ConfigError(CountersignError):
    """A bad setting or policy file: the process stops with exit code 2 and one line."""

    code = "config_error"


class TooSoon(Forbidden):
    """An approve sooner than the level's `min_review_s` after the request was shown (the rubber-stamp
    guard); the same click later works."""

    code = "too_soon"
