"""What the SDK raises. Approval outcomes and transport trouble are separate families, and the
decorated function's own exceptions are never wrapped in either."""

from __future__ import annotations

from typing import Any

from countersign_sdk.models import Approval


class CountersignError(Exception):
    """Base of everything the SDK raises itself."""


class CountersignUnavailable(CountersignError):
    """The server could not be reached (after the retries), or kept answering 5xx."""


class CountersignAPIError(CountersignError):
    """The server refused the call (4xx): bad input, unknown key, not found, conflict."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" {fields}" if fields else ""))
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


class ApprovalError(CountersignError):
    """The call was not approved; the function did not run."""

    def __init__(self, message: str, approval: Approval) -> None:
        super().__init__(message)
        self.approval = approval

    @property
    def comment(self) -> str | None:
        return self.approval.decision.comment if self.approval.decision else None

    @property
    def approver(self) -> str | None:
        return self.approval.decision.by.label if self.approval.decision else None


class ApprovalRejected(ApprovalError):
    """A human (or the policy) rejected the call."""


class ApprovalExpired(ApprovalError):
    """Nobody decided in time and the level's on_timeout is reject."""


class ApprovalCancelled(ApprovalError):
    """The request was cancelled before anyone decided."""


class ApprovalTimeout(ApprovalError):
    """The caller's own `timeout` passed while the request was still pending (it is then cancelled)."""


class ApprovalArgsInvalid(ApprovalError):
    """The approver's modified arguments do not fit the function's signature."""

    def __init__(self, message: str, approval: Approval, problems: Any = None) -> None:
        super().__init__(message, approval)
        self.problems = problems
