"""The use cases every channel calls: submit, decide (vote), cancel, expire, read and wait."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot import audit, metrics, netpolicy
from bot.audit import AuditLog
from bot.clock import Clock, iso, new_id, to_ms
from bot.deciders import Decider, GroupResolver, Individual, People, Resolver, slack_channels
from bot.errors import Conflict, CountersignError, Forbidden, InvalidInput, NotFound, TooSoon
from bot.events import ChangeFeed
from bot.grant_store import GrantBook, GrantCheck, grant_actor, grant_comment
from bot.grants import Grant
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
from bot.policy.schema import LevelPolicy, reasons_for
from bot.policy.sql import INLINE_MAX_CHARS
from bot.redaction import RedactionRules, Redactor
from bot.review_guard import ReviewGuard, too_soon_text
from bot.search import DECIDED, Search, Searcher, SearchPage
from bot.stats import MAX_ENTRIES, Stats, compute
from bot.store import Ballot, Entry, Filing, Store, StoredApproval, parse_approval
from bot.validation import check_args, check_depth, check_plain, validate_args

log = logging.getLogger(__name__)
MAX_WAIT_S = 60
MaskKey = Callable[[], Awaitable[bytes]]


class ApprovalService:
    def __init__(
        self,
        store: Store,
        audit_log: AuditLog,
        feed: ChangeFeed | None,
        policy: Policy,
        clock: Clock,
        group_resolver: GroupResolver | None = None,
    ) -> None:
        self.store = store
        self.audit = audit_log
        self.feed = feed
        self.policy = policy
        self.clock = clock
        # Who is who: the policy's `people:` plus the look-ups an adapter plugs in (Slack: profile emails,
        # user-group and channel members).
        self._resolver = Resolver(People(policy.people))
        self._resolver.group_resolver = group_resolver
        self._people_of = policy
        # The key secret values are masked under (derived from the server's secret key; see bot/redaction.py).
        self.mask_key: MaskKey | None = None
        self._redactor: Redactor | None = None
        self._redactor_policy: Policy | None = None
        self.callback_allow = netpolicy.CallbackAllow()  # COUNTERSIGN_CALLBACK_ALLOW; set by the runtime
        self.limits = AgentLimits()  # off unless the runtime sets them from settings
        self.rate_counter = RateCounter(store.redis, store.keys)
        self.searcher = Searcher(store)
        self.grants = GrantBook(store)
        self.review_guard = ReviewGuard(store.redis, store.keys, store.retention_s)

    @property
    def resolver(self) -> Resolver:
        if self._people_of is not self.policy:  # the policy was replaced: so was its directory
            self._resolver.people, self._people_of = People(self.policy.people), self.policy
        return self._resolver

    # -- submit ---------------------------------------------------------------------------------
    def classify(self, request: ApprovalCreate, agent: str) -> Classification:
        return classify(self.policy, request, agent)

    async def submit(self, request: ApprovalCreate, agent: str, kind: Kind = "action") -> tuple[Approval, bool]:
        """File a request; returns (approval, created). Policy may decide it at once.

        `kind` is set by the route, never by the agent's body: only the question routes file questions."""
        await self.check_intake(request, agent)
        await self.check_callback_url(request.callback_url)
        if request.sql and len(request.sql) > INLINE_MAX_CHARS:
            result = await asyncio.to_thread(self.classify, request, agent)  # long SQL: keep the loop free
        else:
            result = self.classify(request, agent)
        redactor = await self.redactor()
        now = self.clock.now()
        expires = now + result.timeout
        approval_id = new_id("apr")
        document: dict[str, Any] = {
            key: value
            for key, value in {
                "id": approval_id,
                "action": request.action,
                "args": request.args,
                "context": request.context.model_dump(exclude_none=True),
                "agent": agent,
                "run_id": request.run_id,
                "risk_level": result.level.value,
                "risk_reasons": result.reasons,
                "created_at": iso(now),
                "expires_at": iso(expires),
                "quorum": result.route.quorum,
                "requested_by": request.requested_by,
                "sql": request.sql,
                "args_schema": request.args_schema,
                "idempotency_key": request.idempotency_key,
                "callback_url": request.callback_url,
                "kind": None if kind == "action" else kind,
                "risk": request.risk.model_dump(mode="json", exclude_none=True) or None,
                "route": {**result.route.model_dump(mode="json", exclude_defaults=True), "rules": result.rules},
            }.items()
            if value is not None
        }
        status, decision, decided_entry = Status.pending, None, None
        # Only a person can answer a question: policy may refuse one, never answer it.
        if result.auto_outcome and not (kind == "question" and result.auto_outcome == "approve"):
            actor = Actor(channel="policy", id="policy", name="policy")
            approved = result.auto_outcome == "approve"
            status = Status.approved if approved else Status.rejected
            decision = Decision(
                outcome="approve" if approved else "reject",
                by=actor,
                at=now,
                comment=result.auto_comment,
                args=request.args if approved else None,
            )
            decided_entry = audit.entry(
                "decision",
                now,
                approval_id,
                actor,
                outcome=decision.outcome,
                status=status.value,
                comment=decision.comment,
                args=redactor.args(decision.args),
            )
        granted = None
        if decision is None and kind == "action":
            granted = await self.grants.take_first(
                agent, request, result, self.policy, now, self._self_grant_check(request, result.route)
            )
        if granted is not None:  # a standing grant approves it: no person is asked (bot/grants.py)
            actor = grant_actor(granted)
            status = Status.approved
            decision = Decision(outcome="approve", by=actor, at=now, comment=grant_comment(granted), args=request.args)
            decided_entry = audit.entry(
                "decision",
                now,
                approval_id,
                actor,
                outcome="approve",
                status=status.value,
                comment=decision.comment,
                grant=granted.id,
                args=redactor.args(request.args),
            )
        created_entry = audit.entry(
            "created",
            now,
            approval_id,
            Actor(channel="api", id=agent, name=agent),
            action=request.action,
            args=redactor.args(request.args),
            risk_level=result.level.value,
            risk_reasons=result.reasons,
            rules=result.rules,
            run_id=request.run_id,
            requested_by=request.requested_by,
            expires_at=iso(expires),
            kind=None if kind == "action" else kind,
        )
        try:
            created, found_id = await self.store.create(
                Filing(document, status, decision, to_ms(now), to_ms(expires), created_entry, decided_entry),
                self.limits.max_pending,
            )
        except BaseException:
            if granted is not None:
                await self.grants.give_back(granted.id)
            raise
        if not created:
            if granted is not None:  # an idempotent repeat of an earlier request: this one used nothing
                await self.grants.give_back(granted.id)
            return await self.get(found_id), False
        approval = parse_approval(
            {
                "req": canonical(document),
                "st": status.value,
                "cms": str(to_ms(now)),
                "dec": decision.model_dump_json() if decision else "",
            }
        ).approval
        metrics.observe_created(approval)
        if granted is not None:
            metrics.observe_final(approval)
        return approval.model_copy(update={"warnings": result.warnings}), True

    async def check_callback_url(self, url: str | None) -> None:
        """An agent's callback_url must lead only where the operator allows (docs/security.md, section 4)."""
        if url is not None:
            try:
                await netpolicy.check_callback_url(url, self.callback_allow)
            except netpolicy.Refused as exc:
                raise InvalidInput(f"callback_url {exc}", {"callback_url": str(exc)}) from None

    async def check_intake(self, request: ApprovalCreate, agent: str) -> None:
        """What every request must pass before policy sees it: plain names, bounded depth, the agent's rate,
        and a usable args_schema (checked off the event loop, within one time budget)."""
        check_plain(action=request.action, agent=agent, run_id=request.run_id, requested_by=request.requested_by)
        check_depth(
            args=request.args, context=request.context.model_dump(exclude_none=True), args_schema=request.args_schema
        )
        await self.take_agent_rate(agent)
        if request.args_schema is not None:  # depth checked just above: one pass over args
            await validate_args(request.args, request.args_schema, schema_only=True)

    async def take_agent_rate(self, agent: str) -> None:
        """Count one agent write against COUNTERSIGN_AGENT_RATE (429 over it): filing, and anything else an
        agent can make the server store, such as a HumanLayer escalation note."""
        await self.rate_counter.take(agent, self.limits.rate, self.clock.now().timestamp())

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
                if approval.status != Status.pending or remaining <= 0 or self.feed.draining:
                    return approval
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await future
            finally:
                self.feed.forget(approval_id, future)

    async def list_page(
        self, *, status: Status | None, agent: str | None, limit: int, cursor: str | None
    ) -> ApprovalPage:
        """The agents' API list: their own requests (or, for an approver, anyone's), as stored."""
        found = await self.searcher.page(
            Search(status=status.value if status else "", agent=agent or ""), limit, cursor
        )
        return ApprovalPage(items=[s.approval for s in found.items], next_cursor=found.next_cursor)

    # -- what people look for (every human channel: masked) -------------------------------------
    async def view(self, approval_id: str) -> Approval:
        """One request as a person sees it: secret argument values masked."""
        return await self.for_humans(await self.get(approval_id))

    async def search(
        self, search: Search, limit: int, cursor: str | None = None, *, count: bool = False
    ) -> SearchPage[Approval]:
        """A page of requests matching `search`, newest first, masked; `count` also counts every match."""
        found = await self.searcher.page(search, limit, cursor, count=count)
        items = [await self.for_humans(stored.approval) for stored in found.items]
        return SearchPage(items, found.next_cursor, found.matched, found.truncated)

    async def search_ids(self, search: Search, limit: int) -> list[str]:
        """The ids of up to `limit` matches, newest first (a batch decision over a filter)."""
        rows, _matched, _truncated = await self.searcher.rows(search, limit)
        return [approval_id for approval_id, _filed in rows]

    async def recent_decisions(self, limit: int) -> list[Approval]:
        return (await self.search(Search(status=DECIDED), limit)).items

    async def decidable_by(
        self, decider: Decider, limit: int, cursor: str | None = None, max_scan: int = 1000
    ) -> ApprovalPage:
        """Pending requests this decider may decide (the one rule, `may_decide`), newest first, masked."""
        person = await self.individual(decider)
        found: list[Approval] = []
        scanned = 0
        while len(found) < limit and scanned < max_scan:
            page = await self.searcher.page(Search(status=Status.pending.value), 100, cursor)
            for stored in page.items:
                scanned += 1
                if await self._refusal(stored, decider, person) is None:
                    found.append(await self.for_humans(stored.approval))
            cursor = page.next_cursor
            if cursor is None:
                break
        return ApprovalPage(items=found[:limit], next_cursor=cursor if len(found) >= limit else None)

    async def stats(self, since: datetime, max_entries: int = MAX_ENTRIES) -> Stats:
        """The approval figures since `since` (from the audit trail) and what is pending now, by level."""
        bodies: list[str] = []
        async for _entry_id, fields in self.audit.raw_entries(to_ms(since)):
            bodies.append(fields["body"])
            if len(bodies) >= max_entries:
                break
        figures = compute(bodies)
        figures.pending = await self.store.pending_by_level()
        figures.capped = len(bodies) >= max_entries
        return figures

    async def events(self, approval_id: str) -> list[AuditEvent]:
        await self.get_stored(approval_id)
        redactor = await self.redactor()  # entries are masked when written; this covers older ones
        return [redactor.event(event) for event in await self.audit.for_approval(approval_id)]

    # -- what people see ------------------------------------------------------------------------
    async def redactor(self) -> Redactor:
        """The policy's `redact:` rules with the masking key (fetched once)."""
        if self._redactor is None or self._redactor_policy is not self.policy:
            key = await self.mask_key() if self.mask_key is not None else b""
            self._redactor = Redactor(RedactionRules.parse(self.policy.redact), key)
            self._redactor_policy = self.policy
        return self._redactor

    async def for_humans(self, approval: Approval) -> Approval:
        """The copy of a request every human channel renders: secret argument values masked."""
        return (await self.redactor()).approval(approval)

    async def reveal(self, approval_id: str, decider: Decider) -> Approval:
        """The request with its secret values, for an admin who asked to see them; audited either way."""
        approval = await self.get(approval_id)
        if not decider.admin:
            await self.record("refused", approval_id, decider.actor, reason="not_admin", detail="reveal")
            raise Forbidden("only an admin may reveal secret values")
        await self.record("revealed", approval_id, decider.actor)
        return approval

    # -- decide ---------------------------------------------------------------------------------
    async def individual(self, decider: Decider) -> Individual:
        """The person behind a decider, with every identity the directory and the adapters know for them."""
        return await self.resolver.individual(decider.all_identities, f"{decider.channel}:{decider.id}")

    async def is_requester(self, requested_by: str, person: Individual) -> bool:
        requester = await self.resolver.individual([requested_by], requested_by)
        return bool(requester.identities & person.identities)

    def _self_grant_check(self, request: ApprovalCreate, route: LevelPolicy) -> GrantCheck | None:
        """Refuses a grant its own creator would use to approve their own request (self-approval by grant),
        the same rule as deciding by hand: None when the request names nobody or the level allows it."""
        requested_by = request.requested_by
        if not requested_by or route.allow_self_approval:
            return None

        async def created_by_requester(grant: Grant) -> bool:
            creator = await self.resolver.individual([grant.created_by.id], grant.created_by.id)
            return await self.is_requester(requested_by, creator)

        return created_by_requester

    async def may_decide(self, stored: StoredApproval, decider: Decider) -> str | None:
        """None if the decider may decide this request, otherwise the reason they may not.

        The one rule for every channel: never the requester (whatever identity they come with); admins
        always; else the level's named approvers, or, when it names none, the people it was sent to."""
        return await self._refusal(stored, decider, await self.individual(decider))

    async def _refusal(self, stored: StoredApproval, decider: Decider, person: Individual) -> str | None:
        route = stored.route
        requested_by = stored.approval.requested_by
        if requested_by and not route.allow_self_approval and await self.is_requester(requested_by, person):
            return "you asked for this action, so you cannot approve it yourself"
        if decider.admin:
            return None
        level = stored.approval.risk_level.value
        approvers = route.approvers
        if approvers:
            for approver in approvers:
                if await self.resolver.named(approver, person):
                    return None
            return f"only the {level}-risk approvers may decide this request"
        sent_to_them, unknown = await self.resolver.targeted(route, person)
        if sent_to_them:
            return None
        if unknown:
            return (
                f"nobody could tell whether you are in {', '.join(unknown)} (Slack would not say who is "
                "in it), so you cannot decide this request"
            )
        channels = ", ".join(slack_channels(route))
        return (
            f"this {level}-risk request names no approvers: only "
            + (f"members of {channels}, " if channels else "")
            + "the people it was sent to and admins may "
            "decide it"
        )

    @staticmethod
    def reason_required(stored: StoredApproval, outcome: Outcome) -> bool:
        """Whether this decision needs a comment (policy `require_reason`; reject at high and critical)."""
        return outcome in reasons_for(stored.approval.risk_level, stored.route.require_reason)

    async def decide(
        self, approval_id: str, decider: Decider, outcome: Outcome, comment: str | None = None, args: Any = None
    ) -> Approval:
        stored = await self.get_stored(approval_id)
        approval = stored.approval
        now = self.clock.now()
        if approval.status != Status.pending:
            await self.record(
                "refused", approval_id, decider.actor, reason="stale", outcome=outcome, status=approval.status.value
            )
            raise Conflict(f"approval is already {approval.status.value}", approval)
        person = await self.individual(decider)
        refusal = await self._refusal(stored, decider, person)
        if refusal is not None:
            await self.record(
                "refused", approval_id, decider.actor, reason="not_authorised", outcome=outcome, detail=refusal
            )
            raise Forbidden(refusal)
        if wait_s := await self.review_guard.wait_left(stored, decider.channel, outcome, now):
            seen_for = float(stored.route.min_review_s or 0) - wait_s
            await self.record(
                "refused",
                approval_id,
                decider.actor,
                reason="too_soon",
                outcome=outcome,
                seen_for_s=round(seen_for, 1),
            )
            raise TooSoon(too_soon_text(seen_for, wait_s, decider.channel))
        redactor = await self.redactor()
        if outcome == "modify":
            if args is None:
                raise InvalidInput("modify needs args", {"args": "required for modify"})
            # An approver saw masks for secret values: a mask left unchanged keeps the stored value.
            args = await self.check_args(redactor.restore(args, approval.args), approval.args_schema)
        comment = comment.strip() if comment and comment.strip() else None
        if comment is None and self.reason_required(stored, outcome):
            level = approval.risk_level.value
            raise InvalidInput(
                f"say why: a reason is required to {outcome} a {level}-risk request",
                {"comment": f"a reason is required to {outcome} a {level}-risk request"},
            )
        return await self._cast(stored, decider, person, outcome, comment, args)

    async def _cast(
        self,
        stored: StoredApproval,
        decider: Decider,
        person: Individual,
        outcome: Outcome,
        comment: str | None,
        args: Any,
    ) -> Approval:
        """Hand the vote to the transition script, which decides from the stored state what it does: clear
        earlier votes (a modify of the agreed arguments), refuse it (an approve of arguments no longer agreed),
        or end the request (quorum met); every variant it may need is prepared here."""
        approval, approval_id, now = stored.approval, stored.approval.id, self.clock.now()
        redactor = await self.redactor()  # audit entries keep secret values masked
        # The arguments this vote endorses: a modify's own; an approve's those agreed when the decider looked.
        if outcome == "modify":
            endorsed, endorsed_text = args, canonical(args)
        elif outcome == "approve":
            endorsed_text = stored.agreed or canonical(approval.args)
            endorsed = json.loads(endorsed_text)
        else:
            endorsed, endorsed_text = None, ""
        new_status = Status.rejected if outcome == "reject" else Status.approved

        def final(named: Outcome) -> tuple[Decision, Entry]:
            decision = Decision(outcome=named, by=decider.actor, at=now, comment=comment, args=endorsed)
            return decision, audit.entry(
                "decision",
                now,
                approval_id,
                decider.actor,
                outcome=named,
                status=new_status.value,
                comment=comment,
                args=redactor.args(endorsed),
                original_args=redactor.args(approval.args) if named == "modify" else None,
            )

        def vote_entry(reset: bool) -> Entry:
            return audit.entry(
                "vote",
                now,
                approval_id,
                decider.actor,
                outcome=outcome,
                comment=comment,
                args=redactor.args(endorsed),
                reset_earlier_votes=reset or None,
            )

        decision, final_entry = final(outcome)
        ballot = Ballot(
            voter=person.key,
            markers=person.markers,
            kind=outcome,
            endorsed=endorsed_text,
            original=canonical(approval.args),
            quorum=stored.route.quorum,
            vote=Vote(outcome=outcome, by=decider.actor, at=now, comment=comment, args=endorsed),
            entry=vote_entry(False),
            reset_entry=vote_entry(True),
            changed_entry=audit.entry(
                "refused", now, approval_id, decider.actor, reason="args_changed", outcome=outcome
            ),
            modified=final("modify") if outcome == "approve" else None,
        )
        result = await self.store.transition(
            approval_id,
            mode="vote",
            new_status=new_status,
            decision=decision,
            now_ms=to_ms(now),
            final_entry=final_entry,
            ballot=ballot,
            refused_entry=audit.entry("refused", now, approval_id, decider.actor, reason="stale", outcome=outcome),
        )
        return self._settled(result.outcome, result.stored, approval_id, decider)

    def _settled(
        self, outcome: str, stored: StoredApproval | None, approval_id: str, decider: Decider | None = None
    ) -> Approval:
        if stored is None or outcome == "missing":
            raise NotFound(f"no approval {approval_id!r}")
        if outcome == "conflict":
            raise Conflict(f"approval is already {stored.approval.status.value}", stored.approval)
        if outcome == "duplicate":
            raise Conflict("you have already voted on this request", stored.approval)
        if outcome == "changed":
            raise Conflict(
                "the arguments were changed while you decided; look at them again and decide anew", stored.approval
            )
        if outcome == "final":
            metrics.observe_final(stored.approval)
        return stored.approval

    async def answer(self, approval_id: str, decider: Decider, text: str) -> Approval:
        """Answer a question: the text is the decision's comment. Only a request filed as a question can be
        answered, so an answer never approves an action, whatever the action's context says."""
        approval = await self.get(approval_id)
        if approval.kind != "question":
            raise InvalidInput(
                "this request is an action, not a question: approve or reject it",
                {"kind": "only a question can be answered"},
            )
        return await self.decide(approval_id, decider, "approve", text)

    async def cancel(self, approval_id: str, agent: str | None, reason: str | None = None) -> Approval:
        stored = await self.get_stored(approval_id)
        if agent is not None and stored.approval.agent != agent:
            raise NotFound(f"no approval {approval_id!r}")
        now = self.clock.now()
        actor = Actor(channel="api", id=agent or "admin", name=agent)
        decision = Decision(outcome="reject", by=actor, at=now, comment=reason or "cancelled by the agent")
        result = await self.store.transition(
            approval_id,
            mode="final",
            new_status=Status.cancelled,
            decision=decision,
            now_ms=to_ms(now),
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
        on_timeout = stored.route.on_timeout
        actor = Actor(channel="policy", id="timeout", name="timeout")
        approval = stored.approval
        decision = Decision(
            outcome="approve" if on_timeout == "approve" else "reject",
            by=actor,
            at=now,
            comment=f"no decision by {iso(approval.expires_at)}; on_timeout: {on_timeout}",
            args=approval.args if on_timeout == "approve" else None,
        )
        result = await self.store.transition(
            approval_id,
            mode="final",
            new_status=Status.expired,
            decision=decision,
            now_ms=to_ms(now),
            not_before_ms=to_ms(now),
            final_entry=audit.entry(
                "expired", now, approval_id, actor, on_timeout=on_timeout, outcome=decision.outcome
            ),
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

    async def record(self, event_type: str, approval_id: str | None, actor: Actor | None, **detail: Any) -> None:
        """Audit something that changes no state: a notification sent, a refused interaction."""
        await self.store.append_audit(
            audit.entry(event_type, self.clock.now(), approval_id, actor, **detail), approval_id
        )


def time_to_decision(approval: Approval) -> timedelta | None:
    return approval.decision.at - approval.created_at if approval.decision else None
