"""The policy file's shape, validated with pydantic; `docs/policy.md` documents every key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.durations import Duration
from bot.models import RiskLevel

ChannelKind = Literal["slack", "email", "sms", "web"]
SQL_KINDS = (
    "DROP",
    "TRUNCATE",
    "DELETE",
    "UPDATE",
    "ALTER",
    "GRANT",
    "REVOKE",
    "MERGE",
    "INSERT",
    "CREATE",
    "SELECT",
    "OTHER",
)
_TARGET_CHECKS: dict[str, tuple[re.Pattern[str], str]] = {
    "slack": (
        re.compile(r"^(#[\w.-]{1,80}|@[\w.-]{1,80}|[CDGUWS][A-Z0-9]{2,20})$"),
        "a #channel, a channel or user ID, or an @user-group handle",
    ),
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an email address"),
    "sms": (re.compile(r"^\+[1-9]\d{6,14}$"), "a phone number in E.164 form, like +15551234567"),
    "web": (re.compile(r"^.{0,200}$"), "any label"),
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelTarget(Strict):
    kind: ChannelKind
    target: str

    @model_validator(mode="before")
    @classmethod
    def _from_mapping(cls, value: Any) -> Any:
        # Written in YAML as a one-key mapping: {slack: "#agent-approvals"}.
        if isinstance(value, dict) and "kind" not in value:
            if len(value) != 1:
                raise ValueError('a channel is one mapping such as {slack: "#channel"}')
            ((kind, target),) = value.items()
            return {"kind": kind, "target": "" if target is None else str(target)}
        return value

    @model_validator(mode="after")
    def _check_target(self) -> ChannelTarget:
        pattern, expected = _TARGET_CHECKS[self.kind]
        if not pattern.match(self.target):
            raise ValueError(f"{self.kind} target {self.target!r} must be {expected}")
        return self


class Repeat(Strict):
    every: Duration
    times: int = Field(ge=1, le=100)


class EscalationStep(Strict):
    after: Duration
    targets: list[ChannelTarget] = Field(min_length=1)
    repeat: Repeat | None = None

    @model_validator(mode="before")
    @classmethod
    def _collect_targets(cls, value: Any) -> Any:
        # Written as {after: 10m, slack: "@oncall", email: [a@x.com, b@x.com]}.
        if not isinstance(value, dict) or "targets" in value:
            return value
        rest = dict(value)
        targets = []
        for kind in ("slack", "email", "sms", "web"):
            if kind in rest:
                raw = rest.pop(kind)
                for target in raw if isinstance(raw, list) else [raw]:
                    targets.append({kind: target})
        rest["targets"] = targets
        return rest


_IDENTITY_FORM = re.compile(r"^(@[\w.-]+|[UW][A-Z0-9]{2,20}|[^@\s]+@[^@\s]+|\+[1-9]\d{6,14})$")
_PERSON_NAME = re.compile(r"^\w[\w .'-]{0,99}$")


class LevelPolicy(Strict):
    auto_approve: bool = False
    deny: str | None = Field(default=None, min_length=1, max_length=500)
    channels: list[ChannelTarget] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    quorum: int = Field(default=1, ge=1, le=20)
    timeout: Duration | None = None
    on_timeout: Literal["reject", "approve"] = "reject"
    escalate: list[EscalationStep] = Field(default_factory=list)
    allow_self_approval: bool = False
    # Decisions that need a comment; None: the default, `[reject]` for high and critical (see reasons_for).
    require_reason: list[Literal["reject", "modify"]] | None = None
    # Standing grants (bot/grants.py): whether one may approve requests at this level; None: every level but
    # critical. The rubber-stamp guard: an approve sooner than this after the request was shown is refused.
    grantable: bool | None = None
    min_review_s: float = Field(default=0, ge=0, le=3600)
    # Slack: more than this many requests waiting to be posted to one channel become one digest message.
    digest_after: int = Field(default=5, ge=1, le=1000)

    @field_validator("approvers")
    @classmethod
    def _approver_form(cls, value: list[str]) -> list[str]:
        for approver in value:
            if not (_IDENTITY_FORM.match(approver) or _PERSON_NAME.match(approver)):
                raise ValueError(
                    f"approver {approver!r} must be a Slack user ID, an @user-group handle, "
                    "an email address, an E.164 phone number or the name of a person in `people`"
                )
        return value


DEFAULT_REQUIRE_REASON = {RiskLevel.high: ["reject"], RiskLevel.critical: ["reject"]}


def is_grantable(level: RiskLevel, settings: LevelPolicy) -> bool:
    """A level with `grantable: false` is never granted; critical only with `grantable: true`."""
    return settings.grantable if settings.grantable is not None else level != RiskLevel.critical


def reasons_for(level: RiskLevel, require_reason: Sequence[str] | None) -> list[str]:
    """The outcomes that need a reason at this level: as the policy says, else the level's default."""
    return list(DEFAULT_REQUIRE_REASON.get(level, []) if require_reason is None else require_reason)


class Person(Strict):
    """One person in the `people:` directory: every identity they decide with, on any channel."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    slack: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,20}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")

    @model_validator(mode="after")
    def _some_identity(self) -> Person:
        if not (self.slack or self.email or self.phone):
            raise ValueError("a person needs at least one of `slack`, `email` or `phone`")
        return self

    @property
    def identities(self) -> list[str]:
        return [i for i in (self.slack, self.email, self.phone) if i]


def _people_list(value: Any) -> Any:
    # Written as a list of persons, or as a mapping from a person's name to the rest.
    if isinstance(value, dict):
        return [
            {"name": name, **(person or {})} if isinstance(person, dict | None) else person
            for name, person in value.items()
        ]
    return value


class Condition(Strict):
    """Operators on one argument value; all given operators must hold."""

    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    regex: str | None = None
    exists: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `env: prod` is shorthand for `env: {eq: prod}`.
        if not isinstance(value, dict):
            return {"eq": value}
        if not value:
            raise ValueError("a condition needs at least one operator")
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        return value


class NumberCondition(Strict):
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    eq: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"gte": value} if isinstance(value, int | float) else value


class Match(Strict):
    action: str | list[str] | None = None
    agent: str | list[str] | None = None
    args: dict[str, Condition] | None = None
    cost_usd: NumberCondition | None = None
    data_sensitivity: str | list[str] | None = None
    reversible: bool | None = None
    sql: list[str] | None = None

    @field_validator("sql", mode="before")
    @classmethod
    def _sql_kinds(cls, value: Any) -> Any:
        kinds = [value] if isinstance(value, str) else value
        if isinstance(kinds, list):
            kinds = [str(kind).upper() for kind in kinds]
            for kind in kinds:
                if kind not in SQL_KINDS:
                    raise ValueError(f"unknown SQL statement kind {kind!r}; known: {', '.join(SQL_KINDS)}")
        return kinds


class Rule(Strict):
    name: str = Field(min_length=1, max_length=100)
    match: Match
    level: RiskLevel | None = None
    deny: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _level_or_deny(self) -> Rule:
        if (self.level is None) == (self.deny is None):
            raise ValueError("a rule sets exactly one of `level` or `deny`")
        return self


# A key-name glob (`*token*`) or a dotted argument path (`headers.Authorization`).
RedactEntry = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^.\s]+(\.[^.\s]+)*$")]


class Trust(Strict):
    """When history proposes a grant: `suggest_after` approvals by people, no reject or modify in `window`."""

    suggest_after: int = Field(default=5, ge=1, le=1000)
    window: Duration = Field(default_factory=lambda: timedelta(days=14))


class Policy(Strict):
    default_level: RiskLevel = RiskLevel.medium
    levels: dict[RiskLevel, LevelPolicy] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    # Argument paths and key-name globs whose values are masked for people (bot/redaction.py); None: defaults.
    redact: list[RedactEntry] | None = Field(default=None, max_length=200)
    people: list[Person] = Field(default_factory=list)
    trust: Trust = Field(default_factory=Trust)

    @field_validator("people", mode="before")
    @classmethod
    def _people_forms(cls, value: Any) -> Any:
        return _people_list(value)

    @model_validator(mode="after")
    def _people_unique(self) -> Policy:
        # One identity names one person, or votes could not be counted per person.
        seen: dict[str, int] = {}
        names: set[str] = set()
        for n, person in enumerate(self.people):
            if person.name is not None:
                if person.name.lower() in names:
                    raise ValueError(f"people: the name {person.name!r} is used twice")
                names.add(person.name.lower())
            for identity in person.identities:
                if seen.setdefault(identity.lower(), n) != n:
                    raise ValueError(f"people: {identity!r} belongs to two persons")
        for level, settings in self.levels.items():
            for approver in settings.approvers:
                if not _IDENTITY_FORM.match(approver) and approver.lower() not in names:
                    raise ValueError(
                        f"levels.{level.value}.approvers: {approver!r} is no identity and no person's name in `people`"
                    )
        return self

    @model_validator(mode="before")
    @classmethod
    def _brief_format(cls, value: Any) -> Any:
        # The product brief's `approval_channels: {high_risk: [...]}` maps onto levels' channels.
        if not isinstance(value, dict) or "approval_channels" not in value:
            return value
        value = dict(value)
        brief = value.pop("approval_channels") or {}
        if not isinstance(brief, dict):
            raise ValueError("approval_channels must map <level>_risk to a list of channels")
        levels = {str(k): dict(v or {}) for k, v in (value.get("levels") or {}).items()}
        for key, channels in brief.items():
            level = str(key).removesuffix("_risk")
            if level not in {lvl.value for lvl in RiskLevel}:
                raise ValueError(f"approval_channels: unknown level {key!r} (use low_risk … critical_risk)")
            levels.setdefault(level, {})["channels"] = channels
        value["levels"] = levels
        return value

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Policy:
        names = [rule.name for rule in self.rules]
        if duplicate := next((n for n in names if names.count(n) > 1), None):
            raise ValueError(f"rule name {duplicate!r} is used twice")
        return self

    def level(self, level: RiskLevel) -> LevelPolicy:
        return self.levels.get(level) or LevelPolicy()
