"""Countersign's agent SDK: `Countersign(...)`, `@gate.require_approval`, the errors it raises, and
`verify_signature` for callbacks.

Importing it pulls in httpx and pydantic only, never the server (aiohttp.web), Slack or RQ.
"""

from countersign_sdk.callbacks import verify_signature
from countersign_sdk.client import AsyncGate, Countersign
from countersign_sdk.errors import (
    ApprovalArgsInvalid,
    ApprovalCancelled,
    ApprovalError,
    ApprovalExpired,
    ApprovalRejected,
    ApprovalTimeout,
    CountersignAPIError,
    CountersignError,
    CountersignUnavailable,
)
from countersign_sdk.models import Approval, Decision

__all__ = [
    "Approval",
    "ApprovalArgsInvalid",
    "ApprovalCancelled",
    "ApprovalError",
    "ApprovalExpired",
    "ApprovalRejected",
    "ApprovalTimeout",
    "AsyncGate",
    "Countersign",
    "CountersignAPIError",
    "CountersignError",
    "CountersignUnavailable",
    "Decision",
    "verify_signature",
]
