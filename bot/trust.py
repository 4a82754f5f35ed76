"""Trust use cases every channel calls: standing grants (create, list, revoke, approve-and-trust), what
history suggests granting, and the outcomes agents report (which can revoke a grant by themselves)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bot import audit
from bot.clock import iso, new_id, to_ms
from bot.deciders import Decider
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.grant_store import Outcomes
from bot.grants import Grant, GrantCreate, check_expiry, check_level, covers
from bot.jsonutil import canonical
from bot.models import Actor, Approval, ApprovalCreate, Execution, OutcomeReport, RiskLevel, Status
from bot.policy.schema import is_grantable
from bot.service import ApprovalService
from bot.store import StoredApproval
from bot.validation import check_depth

HISTORY_DAYS = 30
HISTORY_MAX = 5000  # requests read for coverage and suggestions; the newest first
DURATIONS = {"1h": timedelta(hours=1), "8h": timedelta(hours=8), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
AUTO_REVOKE = Actor(channel="policy", id="auto-revoke", name="auto-revoke")
_SET_MAX = 20  # distinct values a suggested `in` condition lists before it stops naming them
_PERSON_CHANNELS = {"slack", "email", "sms", "web", "api"}  # not policy, not grant


@dataclass
class Suggestion:
    agent: str
    action: str
    grant: dict[str, Any]
    count: int
    approval_ids: list[str] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "action": self.action,
            "grant": self.grant,
            "evidence": {"count": self.count, "approval_ids": self.approval_ids, "approvers": self.approvers},
        }


@dataclass
class GroupResult:
    """What approving a group did, request by request."""

    approved: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # a vote toward a quorum; still pending
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, why)


def parse_grant_body(raw: Any) -> GrantCreate:
    """A grant body from any channel; a bad one is a 400 naming the field."""
    try:
        return GrantCreate.model_validate(raw)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for problem in exc.errors():
            loc = ".".join(str(part) for part in problem["loc"]) or "body"
            message = problem["msg"].removeprefix("Value error, ")
            fields.setdefault(loc, "unknown field" if problem["type"] == "extra_forbidden" else message)
        first = next(iter(fields))
        raise InvalidInput(f"{first}: {fields[first]}", fields) from None


class TrustService:
    def __init__(self, service: ApprovalService) -> None:
        self.service = service
        self.book = service.grants
        self.outcomes = Outcomes(service.store)

    # -- grants -------------------------------------------------------------------------------------------
    def _check(self, body: GrantCreate) -> None:
        check_depth(args=body.model_dump(by_alias=True, exclude_none=True)["args"])
        now = self.service.clock.now()
        if why := check_expiry(body.expires_at, now):
            raise InvalidInput(f"expires_at {why}", {"expires_at": why})
        if why := check_level(body.max_level, self.service.policy):
            raise InvalidInput(f"max_level: {why}", {"max_level": why})

    async def create(self, body: GrantCreate, creator: Decider, from_approval: str | None = None) -> Grant:
        self._check(body)
        now = self.service.clock.now()
        grant = Grant.model_validate(
            {
                **body.model_dump(by_alias=True),
                "id": new_id("grt"),
                "created_by": creator.actor.model_dump(),
                "created_at": now,
                "from_approval": from_approval,
            }
        )
        entry = audit.entry("grant_created", now, from_approval, creator.actor, grant=grant.id, **grant.body())
        await self.book.create(grant, entry, to_ms(now), to_ms(grant.expires_at))
        return grant

    async def get(self, grant_id: str) -> Grant:
        grant = await self.book.get(grant_id) if grant_id.startswith("grt_") and len(grant_id) < 64 else None
        if grant is None:
            raise NotFound(f"no grant {grant_id[:64]!r}")
        return grant

    async def grants(self, include_all: bool = False) -> list[Grant]:
        now = self.service.clock.now()
        grants = await self.book.all()
        return grants if include_all else [g for g in grants if g.state(now) == "active"]

    async def revoke(self, grant_id: str, by: Decider, reason: str | None = None) -> Grant:
        grant = await self.get(grant_id)
        if not by.admin:
            person = await self.service.individual(by)
            creator = await self.service.resolver.individual([grant.created_by.id], grant.created_by.id)
            if not person.identities & creator.identities:
                raise Forbidden("only the grant's creator or an admin may revoke it")
        await self._revoke(grant, by.actor, reason)
        return await self.get(grant_id)

    async def _revoke(self, grant: Grant, actor: Actor, reason: str | None) -> bool:
        now = self.service.clock.now()
        revocation = {"revoked_at": iso(now), "revoked_by": actor.model_dump(), "revoked_reason": reason}
        entry = audit.entry("grant_revoked", now, None, actor, grant=grant.id, reason=reason)
        return await self.book.revoke(grant.id, revocation, entry) == 1

    async def auto_revoked(self) -> list[Grant]:
        """Grants revoked by failed outcomes, for the dashboard's notice."""
        return [g for g in await self.book.all() if g.revoked_by is not None and g.revoked_by.id == AUTO_REVOKE.id]

    async def approve_and_trust(
        self, approval_id: str, decider: Decider, body: GrantCreate, comment: str | None = None
    ) -> tuple[Approval, Grant]:
        """Approve this request and grant ones like it, in one step. A person may grant no higher than the
        request's own level, and the grant must cover the request it came from (or it trusts nothing like it)."""
        self._check(body)
        stored = await self.service.get_stored(approval_id)
        approval = stored.approval
        if not decider.admin and body.max_level.rank > approval.risk_level.rank:
            raise InvalidInput(
                "max_level may not be above this request's level", {"max_level": f"at most {approval.risk_level.value}"}
            )
        draft = self._draft(body, decider)
        if not covers(
            draft,
            approval.agent,
            approval.action,
            approval.args,
            approval.sql,
            approval.risk_level,
            self.service.policy,
        ):
            raise InvalidInput(
                "the grant would not cover this request: loosen a condition", {"args": "does not match this request"}
            )
        decided = await self.service.decide(approval_id, decider, "approve", comment)
        grant = await self.create(body, decider, from_approval=approval_id)
        return decided, grant

    def _draft(self, body: GrantCreate, creator: Decider) -> Grant:
        return Grant.model_validate(
            {
                **body.model_dump(by_alias=True),
                "id": "grt_draft",
                "created_by": creator.actor.model_dump(),
                "created_at": self.service.clock.now(),
            }
        )

    async def prefill(self, approval: Approval, duration: str = "24h") -> dict[str, Any]:
        """The form's starting grant for a request: its agent and action, each argument as `eq` (a secret
        argument as `exists`, so its value never reaches the form), at most its level."""
        redactor = await self.service.redactor()
        masked = redactor.args(approval.args)
        args = {
            key: {"eq": value} if masked.get(key) == value else {"exists": True} for key, value in approval.args.items()
        }
        return {
            "agent": approval.agent,
            "action": approval.action,
            "args": args,
            **({"sql": {"eq": approval.sql}} if approval.sql else {}),
            "max_level": approval.risk_level.value,
            "expires_at": iso(self.service.clock.now() + DURATIONS.get(duration, DURATIONS["24h"])),
        }

    async def history(self, days: int = HISTORY_DAYS) -> list[StoredApproval]:
        now = self.service.clock.now()
        store = self.service.store
        raw: list[Any] = await store.redis.zrevrangebyscore(
            store.keys.all, "+inf", to_ms(now - timedelta(days=days)), start=0, num=HISTORY_MAX
        )
        return await store.get_many([str(i) for i in raw])  # the runtime's client decodes replies

    async def coverage(self, body: GrantCreate, creator: Decider) -> int:
        """How many of the last 30 days' requests this grant would have covered."""
        draft = self._draft(body, creator)
        policy = self.service.policy
        return sum(
            1
            for s in await self.history()
            if s.approval.kind == "action"
            and covers(
                draft,
                s.approval.agent,
                s.approval.action,
                s.approval.args,
                s.approval.sql,
                s.approval.risk_level,
                policy,
            )
        )

    async def which(self, request: ApprovalCreate, agent: str) -> Grant | None:
        """The grant that would approve this request now (for `policy explain`); no use is taken."""
        result = self.service.classify(request, agent)
        if result.auto_outcome is not None or result.route.quorum > 1:
            return None
        index = await self.book.index()
        now = self.service.clock.now()
        return next(
            index.matching(agent, request.action, request.args, request.sql, result.level, self.service.policy, now),
            None,
        )

    # -- groups (digests) ----------------------------------------------------------------------------------
    async def approve_all(self, approval_ids: list[str], decider: Decider, comment: str | None) -> GroupResult:
        """Approve every request of a group at once (a digest's "Approve all in group…"). Each goes through
        `decide`, so approvers, quorum, self-approval and the rubber-stamp guard hold one by one; a group
        holding a high or critical request needs a typed reason."""
        comment = comment.strip() if comment and comment.strip() else None
        stored = await self.service.store.get_many(approval_ids)
        if comment is None and any(s.approval.risk_level.rank >= RiskLevel.high.rank for s in stored):
            raise InvalidInput(
                "say why: approving a group with high or critical requests needs a reason",
                {"comment": "a reason is required to approve a high or critical group"},
            )
        result = GroupResult()
        for approval_id in approval_ids:
            try:
                approval = await self.service.decide(approval_id, decider, "approve", comment)
            except (Forbidden, Conflict, InvalidInput, NotFound) as exc:
                result.skipped.append((approval_id, exc.message))
                continue
            (result.recorded if approval.status == Status.pending else result.approved).append(approval_id)
        return result

    # -- suggestions -------------------------------------------------------------------------------------
    async def suggestions(self) -> list[Suggestion]:
        """For each (agent, action) people approved at least `trust.suggest_after` times with no reject or
        modify in `trust.window`: a grant body covering what they approved, and the evidence. Never applied."""
        trust = self.service.policy.trust
        cutoff = self.service.clock.now() - trust.window
        groups: dict[tuple[str, str], list[Approval]] = defaultdict(list)
        spoiled: set[tuple[str, str]] = set()
        for stored in await self.history(max(1, trust.window.days + 1)):
            approval = stored.approval
            decision = approval.decision
            if approval.kind != "action" or decision is None or decision.at < cutoff:
                continue
            pair = (approval.agent, approval.action)
            by_people = decision.by.channel in _PERSON_CHANNELS and decision.by.id != "admin"
            if any(
                v.outcome in ("reject", "modify")
                for v in [*approval.approvals, decision]
                if v.by.channel in _PERSON_CHANNELS
            ):
                spoiled.add(pair)
            elif by_people and approval.status == Status.approved:
                groups[pair].append(approval)
        active = {(g.agent, g.action) for g in await self.grants()}
        found = []
        for pair, approvals in groups.items():
            if pair in spoiled or pair in active or len(approvals) < trust.suggest_after:
                continue
            if body := await self._suggested_body(approvals):
                found.append(
                    Suggestion(
                        pair[0],
                        pair[1],
                        body,
                        len(approvals),
                        [a.id for a in approvals][:50],
                        sorted({a.decision.by.name or a.decision.by.id for a in approvals if a.decision}),
                    )
                )
        return sorted(found, key=lambda s: -s.count)

    async def _suggested_body(self, approvals: list[Approval]) -> dict[str, Any] | None:
        level = RiskLevel.highest([a.risk_level for a in approvals])
        policy = self.service.policy
        if not is_grantable(level, policy.level(level)):
            return None
        redactor = await self.service.redactor()
        keys = set.intersection(*(set(a.args) for a in approvals))
        args = {
            key: _covering(
                [a.args[key] for a in approvals],
                secret=any(redactor.args({key: a.args[key]}) != {key: a.args[key]} for a in approvals),
            )
            for key in sorted(keys)
        }
        first = approvals[0]
        # The statements people approved, as a set: a grant with no SQL condition matches no SQL request.
        statements = sorted({a.sql for a in approvals if a.sql})
        sql = {"sql": {"in": statements}} if 0 < len(statements) <= _SET_MAX else {}
        if len(statements) > _SET_MAX:
            return None  # too many different statements to trust by a list; nothing narrower is safe
        return {
            "agent": first.agent,
            "action": first.action,
            "args": args,
            **sql,
            "max_level": level.value,
            "expires_at": iso(self.service.clock.now() + timedelta(days=7)),
            "reason": f"suggested from {len(approvals)} approvals",
        }

    # -- outcomes ----------------------------------------------------------------------------------------
    async def report_outcome(self, approval_id: str, agent: str, report: OutcomeReport) -> Approval:
        """The agent says what happened when it ran its approved request: once, audited as `executed`."""
        stored = await self.service.get_stored(approval_id)
        approval = stored.approval
        if approval.agent != agent:
            raise NotFound(f"no approval {approval_id!r}")
        if approval.status != Status.approved:
            raise Conflict(f"approval is {approval.status.value}: only an approved request runs", approval)
        now = self.service.clock.now()
        execution = Execution(status=report.status, detail=report.detail, at=now)
        entry = audit.entry(
            "executed",
            now,
            approval_id,
            Actor(channel="api", id=agent, name=agent),
            status=report.status,
            detail=report.detail,
        )
        if await self.outcomes.record(approval_id, execution.model_dump(mode="json"), entry) == 0:
            raise Conflict("the outcome of this request was already reported", approval)
        decision = approval.decision
        if report.status == "failed" and decision is not None and decision.by.channel == "grant":
            await self._count_failure(decision.by.id)
        return await self.service.get(approval_id)

    async def _count_failure(self, grant_id: str) -> None:
        failures = await self.book.count_failure(grant_id)
        grant = await self.book.get(grant_id)
        if grant is not None and grant.revoked_at is None and failures >= grant.revoke_after_failures:
            await self._revoke(grant, AUTO_REVOKE, f"{failures} failed outcome(s) of requests it approved")


def _covering(values: list[Any], secret: bool) -> dict[str, Any]:
    """The narrowest condition that holds for every approved value."""
    if secret:
        return {"exists": True}
    distinct = {canonical(v): v for v in values}
    if len(distinct) == 1:
        return {"eq": values[0]}
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return {"gte": min(values), "lte": max(values)}
    if len(distinct) <= _SET_MAX:
        return {"in": list(distinct.values())}
    return {"exists": True}


def grant_summary(grant: Grant, now: datetime) -> str:
    """One plain line about a grant (channels escape it as they render)."""
    uses = f"{grant.uses}/{grant.max_uses}" if grant.max_uses else str(grant.uses)
    return (
        f"{grant.agent} · {grant.action} · up to {grant.max_level.value} · {len(grant.args)} condition(s) · "
        f"uses {uses} · until {iso(grant.expires_at)} · {grant.state(now)}"
    )
