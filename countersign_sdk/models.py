"""The approval as the agent API returns it (lenient: fields the server adds later are kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Actor(BaseModel):
    model_config = ConfigDict(extra="allow")

    channel: str
    id: str
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.id


class Decision(BaseModel):
    model_config = ConfigDict(extra="allow")

    outcome: str  # approve | reject | modify
    by: Actor
    at: datetime
    comment: str | None = None
    args: dict[str, Any] | None = None


class Approval(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str  # pending | approved | rejected | expired | cancelled
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    agent: str = ""
    run_id: str | None = None
    risk_level: str = "medium"
    risk_reasons: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    expires_at: datetime | None = None
    decision: Decision | None = None
    idempotency_key: str | None = None
    # On the answer to a filing: what of the request the server did not honour (also logged as a warning).
    warnings: list[str] = Field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def go_ahead(self) -> bool:
        """True when the call may run: approved, or expired under a policy whose on_timeout is approve."""
        if self.status == "approved":
            return True
        return self.status == "expired" and self.decision is not None and self.decision.outcome == "approve"

    @property
    def final_args(self) -> dict[str, Any]:
        """The arguments to run with: the approver's (modify) or the ones asked for."""
        if self.decision is not None and self.decision.args is not None:
            return self.decision.args
        return self.args
