"""The use cases every channel calls: submit, decide (vote), cancel, expire, read and wait."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot import audit, metrics
from bot.audit import AuditLog
from bot.clock import Clock, iso, new_id, to_ms
from bot.errors import Conflict, CountersignError, Forbidden, InvalidInput, NotFound
from bot.events import ChangeFeed
from bot.jsonutil import canonical
from bot.limits import AgentLimits, RateCounter
from bot.models import (
    Actor,
    Approval,
    ApprovalCreate,
    ApprovalPage,
    AuditEvent,
    Decision,
    Kind,
    Outcome,
    Status,
    Vote,
)
from bot.policy import Classification, Policy, classify
from bot.store import Store, StoredApproval, parse_approval
from bot.validation import check_args, check_depth, check_plain

log = logging.getLogger(__name__)
GroupResolver = Callable[[str], Awaitable[set[str]]]
IdentityResolver = Callable[[str], Awaitable[frozenset[str]]]
MAX_WAIT_S = 60


@dataclass(frozen=True)
class Decider:
    """Who is deciding, as the channel adapter established it."""

    channel: str
    id: str
    name: str | None = None
    identities: frozenset[str] = field(default_factory=frozenset)  # Slack ID, email, phone…
    admin: bool = False  # an approver API key: may decide any request

    @property
    def actor(self) -> Actor:
        return Actor(channel=self.channel, id=self.id, name=self.name)  # type: ignore[arg-type]

    @property
    def all_identities(self) -> set[str]:
        return {i.lower() for i in self.identities | {self.id}}


class ApprovalService:
    def __init__(self, store: Store, audit_log: AuditLog, feed: ChangeFeed | None, policy: Policy,
                 clock: Clock, group_resolver: GroupResolver | None = None) -> None:
        self.store = store
        self.audit = audit_log
        self.feed = feed
        self.policy = policy
        self.clock = clock
        self.group_resolver = group_resolver
        # Other names of one person (a Slack user ID → their email), set by an adapter that can look them
        # up, so that the requester is recognised whichever channel they decide from.
        self.identity_resolver: IdentityResolver | None = None
        self.limits = AgentLimits()  # off unless the runtime sets them from settings
        self.rate_counter = RateCounter(store.redis, store.keys)

    # -- submit ---------------------------------------------------------------------------------
    def classify(self, request: ApprovalCreate, agent: str) -> Classification:
        return classify(self.policy, request, agent)

    async def submit(self, request: ApprovalCreate, agent: str, kind: Kind = "action") -> tuple[Approval, bool]:
        """File a request; returns (approval, created). Policy may decide it at once.

        `kind` is set by the route, never by the agent's body: only the question routes file questions."""
        await self.check_intake(request, agent)
        if request.sql and len(request.sql) > 2000:
            result = await asyncio.to_thread(self.classify, request, agent)  # long SQL: keep the loop free
        else:
            result = self.classify(request, agent)
        now = self.clock.now()
        expires = now + result.timeout
        approval_id = new_id("apr")
        document: dict[str, Any] = {key: value for key, value in {
            "id": approval_id, "action": request.action, "args": request.args,
            "context": request.context.model_dump(exclude_none=True), "agent": agent,
            "run_id": request.run_id, "risk_level": result.level.value, "risk_reasons": result.reasons,
            "created_at": iso(now), "expires_at": iso(expires), "quorum": result.route.quorum,
            "requested_by": request.requested_by, "sql": request.sql, "args_schema": request.args_schema,
            "idempotency_key": request.idempotency_key, "callback_url": request.callback_url,
            "kind": None if kind == "action" else kind,
            "route": {**result.route.model_dump(mode="json", exclude_defaults=True), "rules": result.rules},
        }.items() if value is not None}
        status, decision, decided_entry = Status.pending, None, None
        # Only a person can answer a question: policy may refuse one, never answer it.
        if result.auto_outcome and not (kind == "question" and result.auto_outcome == "approve"):
            actor = Actor(channel="policy", id="policy", name="policy")
            approved = result.auto_outcome == "approve"
            status = Status.approved if approved else Status.rejected
            decision = Decision(outcome="approve" if approved else "reject", by=actor, at=now,
                                comment=result.auto_comment, args=request.args if approved else None)
            decided_entry = audit.entry("decision", now, approval_id, actor, outcome=decision.outcome,
                                        status=status.value, comment=decision.comment, args=decision.args)
        created_entry = audit.entry(
            "created", now, approval_id, Actor(channel="api", id=agent, name=agent),
            action=request.action, args=request.args, risk_level=result.level.value,
            risk_reasons=result.reasons, rules=result.rules, run_id=request.run_id,
            requested_by=request.requested_by, expires_at=iso(expires), kind=None if kind == "action" else kind,
        )
        created, found_id = await self.store.create(document, status, decision, to_ms(now), to_ms(expires),
                                                    created_entry, decided_entry, self.limits.max_pending)
        if not created:
            return await self.get(found_id), False
        approval = parse_approval({"req": canonical(document), "st": status.value, "cms": str(to_ms(now)),
                                   "dec": decision.model_dump_json() if decision else ""}).approval
        metrics.observe_created(approval)
        return approval, True

    async def check_intake(self, request: ApprovalCreate, agent: str) -> None:
        """What every request must pass before policy sees it: plain names, bounded depth, the agent's rate,
        and a usable args_schema (checked off the event loop, within one time budget)."""
        check_plain(action=request.action, agent=agent, run_id=request.run_id, requested_by=request.requested_by)
        check_depth(args=request.args, context=request.context.model_dump(exclude_none=True),
                    args_schema=request.args_schema)
        await self.rate_counter.take(agent, self.limits.rate, self.clock.now().timestamp())
        if request.args_schema is not None:
            await check_args(request.args, request.args_schema, schema_only=True)

    async def check_args(self, args: Any, schema: dict[str, Any] | None, schema_only: bool = False) -> Any:
        """Validate args against a schema; see bot.validation (depth, local refs, one time budget)."""
        return await check_args(args, schema, schema_only)

    # -- read -----------------------------------------------------------------------------------
    async def get_stored(self, approval_id: str) -> StoredApproval:
        stored = await self.store.get(approval_id)
        if stored is None:
            raise NotFound(f"no approval {approval_id!r}")
        return stored

    async def get(self, approval_id: str) -> Approval:
        return (await self.get_stored(approval_id)).approval

    async def wait(self, approval_id: str, seconds: float) -> Approval:
        """Return once the approval leaves `pending` or `seconds` pass; woken by a push."""
        if seconds <= 0 or self.feed is None:
            return await self.get(approval_id)
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            future = self.feed.waiter(approval_id)
            try:
                approval = await self.get(approval_id)
                remaining = deadline - asyncio.get_running_loop().time()
                if approval.status != Status.pending or remaining <= 0:
                    return approval
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await future
            finally:
                self.feed.forget(approval_id, future)

    async def list_page(self, *, status: Status | None, agent: str | None, limit: int,
                   cursor: str | None) -> ApprovalPage:
        keys = self.store.keys
        if agent is not None:
            index = keys.agent_index(agent)
        else:
            index = keys.pending if status == Status.pending else keys.all
        records, next_cursor = await self.store.page(index, limit, cursor, status)
        return ApprovalPage(items=[r.approval for r in records], next_cursor=next_cursor)

    async def events(self, approval_id: str) -> list[AuditEvent]:
        await self.get_stored(approval_id)
        return await self.audit.for_approval(approval_id)

    # -- decide ---------------------------------------------------------------------------------
    async def may_decide(self, stored: StoredApproval, decider: Decider) -> str | None:
        """None if the decider may decide this request, otherwise the reason they may not."""
        route = stored.route
        requested_by = stored.approval.requested_by
        if requested_by and not route.get("allow_self_approval"):
            theirs = {requested_by.lower()}
            if self.identity_resolver is not None:
                theirs |= {i.lower() for i in await self.identity_resolver(requested_by)}
            if theirs & decider.all_identities:
                return "you asked for this action, so you cannot approve it yourself"
        if decider.admin:
            return None
        approvers: list[str] = route.get("approvers") or []
        if not approvers:
            return None
        mine = decider.all_identities
        if any(a.lower() in mine for a in approvers if not a.startswith("@")):
            return None
        for handle in (a for a in approvers if a.startswith("@")):
            if handle.lower() in mine:
                return None
            if self.group_resolver is not None:
                members = await self.group_resolver(handle)
                if mine & {m.lower() for m in members}:
                    return None
        return f"only the {stored.approval.risk_level.value}-risk approvers may decide this request"

    async def decide(self, approval_id: str, decider: Decider, outcome: Outcome,
                     comment: str | None = None, args: Any = None) -> Approval:
        stored = await self.get_stored(approval_id)
        approval = stored.approval
        now = self.clock.now()
        if approval.status != Status.pending:
            await self.store.append_audit(audit.entry(
                "refused", now, approval_id, decider.actor, reason="stale", outcome=outcome,
                status=approval.status.value), approval_id)
            raise Conflict(f"approval is already {approval.status.value}", approval)
        refusal = await self.may_decide(stored, decider)
        if refusal is not None:
            await self.store.append_audit(audit.entry(
                "refused", now, approval_id, decider.actor, reason="not_authorised", outcome=outcome,
                detail=refusal), approval_id)
            raise Forbidden(refusal)
        if outcome == "modify":
            if args is None:
                raise InvalidInput("modify needs args", {"args": "required for modify"})
            args = await self.check_args(args, approval.args_schema)
        quorum = int(stored.route.get("quorum", 1))
        # Under a quorum, a modify that changes the arguments clears earlier approvals: they endorsed other
        # arguments, so the people who want the change must gather the quorum for it.
        reset_votes = outcome == "modify" and quorum > 1 and bool(approval.approvals) and args != (
            [v.args for v in approval.approvals if v.outcome == "modify"] or [approval.args])[-1]
        final_args = None if outcome == "reject" else (args if outcome == "modify" else approval.args)
        vote = Vote(outcome=outcome, by=decider.actor, at=now, comment=comment, args=final_args)
        decision = Decision(**vote.model_dump())
        if outcome == "approve" and approval.approvals and not reset_votes:
            # With a quorum, the arguments agreed by an earlier modify vote stand.
            modified = [v for v in approval.approvals if v.outcome == "modify"]
            if modified:
                decision = decision.model_copy(update={"args": modified[-1].args, "outcome": "modify"})
        new_status = Status.rejected if outcome == "reject" else Status.approved
        result = await self.store.transition(
            approval_id, mode="vote", voter=f"{decider.channel}:{decider.id}".lower(), vote=vote,
            vote_entry=audit.entry("vote", now, approval_id, decider.actor, outcome=outcome, comment=comment,
                                   args=final_args, reset_earlier_votes=reset_votes or None),
            decisive=outcome == "reject" or quorum <= 1,
            quorum=quorum, new_status=new_status, decision=decision,
            now_ms=to_ms(now), identities=decider.all_identities, reset_votes=reset_votes,
            final_entry=audit.entry("decision", now, approval_id, decider.actor, outcome=decision.outcome,
                                    status=new_status.value, comment=comment, args=decision.args,
                                    original_args=approval.args if outcome == "modify" else None),
            refused_entry=audit.entry("refused", now, approval_id, decider.actor, reason="stale",
                                      outcome=outcome),
        )
        return self._settled(result.outcome, result.stored, approval_id, decider)

    def _settled(self, outcome: str, stored: StoredApproval | None, approval_id: str,
                 decider: Decider | None = None) -> Approval:
        if stored is None or outcome == "missing":
            raise NotFound(f"no approval {approval_id!r}")
        if outcome == "conflict":
            raise Conflict(f"approval is already {stored.approval.status.value}", stored.approval)
        if outcome == "duplicate":
            raise Conflict("you have already voted on this request", stored.approval)
        if outcome == "final":
            metrics.observe_final(stored.approval)
        return stored.approval

    async def answer(self, approval_id: str, decider: Decider, text: str) -> Approval:
        """Answer a question: the text is the decision's comment. Only a request filed as a question can be
        answered, so an answer never approves an action, whatever the action's context says."""
        approval = await self.get(approval_id)
        if approval.kind != "question":
            raise InvalidInput("this request is an action, not a question: approve or reject it",
                               {"kind": "only a question can be answered"})
        return await self.decide(approval_id, decider, "approve", text)

    async def cancel(self, approval_id: str, agent: str | None, reason: str | None = None) -> Approval:
        stored = await self.get_stored(approval_id)
        if agent is not None and stored.approval.agent != agent:
            raise NotFound(f"no approval {approval_id!r}")
        now = self.clock.now()
        actor = Actor(channel="api", id=agent or "admin", name=agent)
        decision = Decision(outcome="reject", by=actor, at=now, comment=reason or "cancelled by the agent")
        result = await self.store.transition(
            approval_id, mode="final", new_status=Status.cancelled, decision=decision, now_ms=to_ms(now),
            final_entry=audit.entry("cancelled", now, approval_id, actor, reason=reason),
        )
        return self._settled(result.outcome, result.stored, approval_id)

    async def expire(self, approval_id: str) -> Approval | None:
        """Expire a pending request whose time is up into its level's safe default; else None."""
        stored = await self.store.get(approval_id)
        if stored is None:
            await self.store.unschedule(approval_id)  # gone or unreadable: never due again
            return None
        if stored.approval.status != Status.pending:
            return None
        now = self.clock.now()
        if stored.approval.expires_at > now:
            return None
        on_timeout = stored.route.get("on_timeout", "reject")
        actor = Actor(channel="policy", id="timeout", name="timeout")
        approval = stored.approval
        decision = Decision(outcome="approve" if on_timeout == "approve" else "reject", by=actor, at=now,
                            comment=f"no decision by {iso(approval.expires_at)}; on_timeout: {on_timeout}",
                            args=approval.args if on_timeout == "approve" else None)
        result = await self.store.transition(
            approval_id, mode="final", new_status=Status.expired, decision=decision, now_ms=to_ms(now),
            not_before_ms=to_ms(now),
            final_entry=audit.entry("expired", now, approval_id, actor, on_timeout=on_timeout,
                                    outcome=decision.outcome),
        )
        if result.outcome != "final" or result.stored is None:
            return None
        metrics.observe_final(result.stored.approval)
        return result.stored.approval

    async def expire_due(self, limit: int = 500) -> list[Approval]:
        expired = []
        for approval_id in await self.store.due_for_expiry(to_ms(self.clock.now()), limit):
            try:
                approval = await self.expire(approval_id)
            except CountersignError as exc:  # one request that cannot expire must not hold up the others
                log.error("could not expire %s: %s", approval_id, exc.message)
                continue
            if approval is not None:
                expired.append(approval)
        return expired

    async def record(self, event_type: str, approval_id: str | None, actor: Actor | None,
                     **detail: Any) -> None:
        """Audit something that changes no state: a notification sent, a refused interaction."""
        await self.store.append_audit(audit.entry(event_type, self.clock.now(), approval_id, actor, **detail),
                                      approval_id)


def time_to_decision(approval: Approval) -> timedelta | None:
    return approval.decision.at - approval.created_at if approval.decision else None
