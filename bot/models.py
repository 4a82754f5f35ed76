"""Pydantic models at the API boundary: what agents send, and the approval they get back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from bot.clock import iso


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)

    @classmethod
    def highest(cls, levels: list[RiskLevel]) -> RiskLevel:
        return max(levels, key=lambda level: level.rank)


_LEVEL_ORDER = [RiskLevel.low, RiskLevel.medium, RiskLevel.high, RiskLevel.critical]
RISK_LEVELS: tuple[str, ...] = tuple(level.value for level in _LEVEL_ORDER)  # lowest first: forms, filters, tables


class Status(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"
    cancelled = "cancelled"


Outcome = Literal["approve", "reject", "modify"]
# What a request is: an action to approve, or a question to answer. Set by the route it was filed through
# (POST /v1/approvals files actions; POST /v1/questions and HumanLayer contacts file questions), never by
# anything in the body.
Kind = Literal["action", "question"]
ChannelName = Literal["slack", "email", "sms", "web", "api", "policy", "grant"]
Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]


def _plain_text(value: str) -> str:
    # A lone surrogate cannot be encoded and would break Redis keys and JSON; refuse it here.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(_plain_text)]


class Context(BaseModel):
    """What the approver needs to judge the call; extra keys are kept and shown."""

    model_config = ConfigDict(extra="allow")

    why: Text | None = Field(default=None, max_length=4000)
    affected: Text | None = Field(default=None, max_length=4000)
    reversible: bool | None = None
    alternatives: Text | None = Field(default=None, max_length=4000)


class RiskHints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cost_usd: float | None = Field(default=None, ge=0, le=1e12)
    data_sensitivity: Text | None = Field(default=None, max_length=100)
    reversible: bool | None = None
    level: RiskLevel | None = None


class ApprovalCreate(BaseModel):
    """Body of `POST /v1/approvals`. Unknown top-level fields are refused to catch typos."""

    model_config = ConfigDict(extra="forbid")

    action: Text = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    context: Context = Field(default_factory=Context)
    risk: RiskHints = Field(default_factory=RiskHints)
    sql: Text | None = Field(default=None, max_length=100_000)
    args_schema: dict[str, Any] | None = None
    requested_by: Text | None = Field(default=None, max_length=200)
    run_id: Text | None = Field(default=None, max_length=200)
    idempotency_key: Text | None = Field(default=None, min_length=1, max_length=200)
    timeout_s: int | None = Field(default=None, ge=1, le=30 * 86400)
    callback_url: Text | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")


class QuestionCreate(BaseModel):
    """Body of `POST /v1/questions`: a question for a person, answered in free text."""

    model_config = ConfigDict(extra="forbid")

    question: Text = Field(min_length=1, max_length=4000)
    subject: Text | None = Field(default=None, max_length=200)
    context: Context = Field(default_factory=Context)
    requested_by: Text | None = Field(default=None, max_length=200)
    run_id: Text | None = Field(default=None, max_length=200)
    idempotency_key: Text | None = Field(default=None, min_length=1, max_length=200)
    timeout_s: int | None = Field(default=None, ge=1, le=30 * 86400)
    callback_url: Text | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")

    def as_request(self, action: str = "question") -> ApprovalCreate:
        """The request the service files (with kind `question`): the text in `args.message`, at least medium
        risk so that no policy level answers it by auto-approving."""
        args: dict[str, Any] = {"message": self.question}
        if self.subject:
            args["subject"] = self.subject
        context = self.context.model_copy(update={"why": self.context.why or self.question})
        return ApprovalCreate(
            action=action,
            args=args,
            context=context,
            risk=RiskHints(level=RiskLevel.medium),
            requested_by=self.requested_by,
            run_id=self.run_id,
            idempotency_key=self.idempotency_key,
            timeout_s=self.timeout_s,
            callback_url=self.callback_url,
        )


class DecisionCreate(BaseModel):
    """Body of `POST /v1/approvals/{id}/decision`."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    comment: Text | None = Field(default=None, max_length=4000)
    args: dict[str, Any] | None = None


class Actor(BaseModel):
    channel: ChannelName
    id: str
    name: str | None = None


class Vote(BaseModel):
    outcome: Outcome
    by: Actor
    at: Timestamp
    comment: str | None = None
    args: dict[str, Any] | None = None


class FieldChange(BaseModel):
    """One field a modify changed (`change`: "changed", "added" or "removed"; old/new null when absent)."""

    path: str
    change: Literal["changed", "added", "removed"]
    old: Any = None
    new: Any = None


class Decision(Vote):
    # Filled on the way out (API, callbacks) for a modify: what changed, field by field. Not stored.
    changes: list[FieldChange] | None = None


class Execution(BaseModel):
    """What the agent reported after running an approved request (`POST /v1/approvals/{id}/outcome`)."""

    status: Literal["succeeded", "failed"]
    detail: str | None = None
    at: Timestamp


class OutcomeReport(BaseModel):
    """Body of `POST /v1/approvals/{id}/outcome`."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["succeeded", "failed"]
    detail: Text | None = Field(default=None, max_length=2000)


class Approval(BaseModel):
    """An approval request as agents and channels see it."""

    id: str
    status: Status
    action: str
    args: dict[str, Any]
    context: dict[str, Any]
    agent: str
    run_id: str | None = None
    risk_level: RiskLevel
    risk_reasons: list[str]
    created_at: Timestamp
    expires_at: Timestamp
    decision: Decision | None = None
    approvals: list[Vote] = Field(default_factory=list)
    quorum: int = 1
    requested_by: str | None = None
    sql: str | None = None
    args_schema: dict[str, Any] | None = None
    idempotency_key: str | None = None
    callback_url: str | None = None
    updated_at: Timestamp | None = None
    kind: Kind = "action"
    execution: Execution | None = None
    # The agent's own risk hints (cost_usd, data_sensitivity, reversible, level) as filed: shown, never trusted.
    risk: dict[str, Any] | None = None
    # Only on the answer to the filing itself: what of the request was not honoured (e.g. timeout_s under
    # on_timeout: approve). Never stored; a later GET shows an empty list.
    warnings: list[str] = Field(default_factory=list)


class ApprovalPage(BaseModel):
    items: list[Approval]
    next_cursor: str | None = None


class AuditEvent(BaseModel):
    id: str
    at: Timestamp
    type: str
    approval_id: str | None = None
    actor: Actor | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    hash: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody
