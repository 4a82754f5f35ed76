"""The use cases every channel calls: submit, decide (vote), cancel, expire, read and wait."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jsonschema
import jsonschema.validators
import regex
from jsonschema.exceptions import SchemaError

from bot import audit, metrics, netpolicy
from bot.audit import AuditLog
from bot.clock import Clock, iso, new_id, to_ms
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.events import ChangeFeed
from bot.jsonutil import canonical
from bot.models import Actor, Approval, ApprovalCreate, ApprovalPage, AuditEvent, Decision, Outcome, Status, Vote
from bot.policy import Classification, Policy, classify
from bot.store import Store, StoredApproval, parse_approval

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


PATTERN_TIMEOUT_S = 0.5


class _SlowPattern(Exception):
    pass


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """JSON Schema `pattern` with a time limit: an agent's pattern must not hold the process (Python's re
    keeps the GIL while it backtracks, so a thread would not help)."""
    if not isinstance(instance, str):
        return
    try:
        found = regex.search(pattern, instance, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise _SlowPattern(pattern) from None
    if found is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_ArgsValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def validate_args(args: Any, schema: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise InvalidInput("args must be a JSON object", {"args": "must be a JSON object"})
    if schema:
        validator = _ArgsValidator(schema)
        try:
            problems = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
        except _SlowPattern:
            raise InvalidInput("args_schema takes too long to check",
                               {"args_schema": "a pattern takes too long on these args"}) from None
        except Exception as exc:  # an unresolvable $ref, a bad regex: the schema is unusable, not the args
            raise InvalidInput("the request's args_schema cannot be applied",
                               {"args_schema": f"{type(exc).__name__}: {exc}"[:300]}) from None
        if problems:
            fields = {
                "args" + "".join(f".{p}" for p in problem.absolute_path): problem.message
                for problem in problems
            }
            raise InvalidInput("args do not match the request's args_schema", fields)
    return args


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
        self.callback_allow = netpolicy.CallbackAllow()  # COUNTERSIGN_CALLBACK_ALLOW; set by the runtime

    # -- submit ---------------------------------------------------------------------------------
    def classify(self, request: ApprovalCreate, agent: str) -> Classification:
        return classify(self.policy, request, agent)

    async def submit(self, request: ApprovalCreate, agent: str) -> tuple[Approval, bool]:
        """File a request; returns (approval, created). Policy may decide it at once."""
        await self.check_callback_url(request.callback_url)
        if request.args_schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(request.args_schema)
            except SchemaError as exc:
                raise InvalidInput("args_schema is not a valid JSON Schema",
                                   {"args_schema": exc.message}) from None
            await self.check_args(request.args, request.args_schema, schema_only=True)
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
            "route": {**result.route.model_dump(mode="json", exclude_defaults=True), "rules": result.rules},
        }.items() if value is not None}
        status, decision, decided_entry = Status.pending, None, None
        if result.auto_outcome:
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
            requested_by=request.requested_by, expires_at=iso(expires),
        )
        created, found_id = await self.store.create(document, status, decision, to_ms(now), to_ms(expires),
                                                    created_entry, decided_entry)
        if not created:
            return await self.get(found_id), False
        approval = parse_approval({"req": canonical(document), "st": status.value, "cms": str(to_ms(now)),
                                   "dec": decision.model_dump_json() if decision else ""}).approval
        metrics.observe_created(approval)
        return approval, True

    async def check_callback_url(self, url: str | None) -> None:
        """An agent's callback_url must lead only where the operator allows (docs/security.md, section 4)."""
        if url is not None:
            try:
                await netpolicy.check_callback_url(url, self.callback_allow)
            except netpolicy.Refused as exc:
                raise InvalidInput(f"callback_url {exc}", {"callback_url": str(exc)}) from None

    async def check_args(self, args: Any, schema: dict[str, Any] | None, schema_only: bool = False) -> Any:
        """Validate args against a schema; patterns run with a time limit (they come from agents).

        With schema_only, the args' own mismatches are ignored: only an unusable schema is an error."""
        try:
            return validate_args(args, schema)
        except InvalidInput as exc:
            if schema_only and "args_schema" not in exc.fields:
                return args
            raise

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
        if stored is None or stored.approval.status != Status.pending:
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
            approval = await self.expire(approval_id)
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
