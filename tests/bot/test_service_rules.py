"""Rules that live once in the service: approvers, self-approval, expiry into the safe default."""

from datetime import timedelta

import pytest

from bot.clock import FrozenClock, SystemClock
from bot.errors import Conflict, Forbidden
from bot.models import ApprovalCreate
from bot.service import Decider
from tests.support.servers import running_app

POLICY = """
levels:
  medium:
    approvers: ["U0ADA", "ops@corp.com", "@leads"]
    timeout: 10m
  high:
    channels: [{slack: U0ADA}]  # no approvers named: the people it is sent to decide
    timeout: 5m
    on_timeout: approve
    allow_self_approval: true
rules:
  - {name: big, match: {cost_usd: {gt: 100}}, level: high}
"""


@pytest.fixture
async def svc(settings):
    clock = FrozenClock(SystemClock().now())
    async with running_app(settings, POLICY, clock) as app:
        yield app.runtime.service, clock, app


async def test_only_listed_approvers_may_decide(svc):
    service, _clock, app = svc
    approval, _ = await service.submit(ApprovalCreate(action="x"), "agent")
    with pytest.raises(Forbidden):
        await service.decide(approval.id, Decider("slack", "U0BOB", "Bob"), "approve")
    events = await service.events(approval.id)
    assert events[-1].type == "refused" and events[-1].detail["reason"] == "not_authorised"
    decided = await service.decide(
        approval.id, Decider("email", "ops@corp.com", "Ops", identities=frozenset({"ops@corp.com"})), "approve"
    )
    assert decided.status == "approved"


async def test_group_members_resolved(svc):
    service, _clock, _app = svc

    async def resolver(handle):
        return {"U0CAROL"} if handle == "@leads" else set()

    service.resolver.group_resolver = resolver
    approval, _ = await service.submit(ApprovalCreate(action="x"), "agent")
    decided = await service.decide(approval.id, Decider("slack", "U0CAROL", "Carol"), "reject", "no")
    assert decided.status == "rejected"


async def test_requester_cannot_approve_own_request(svc):
    service, _clock, _app = svc
    approval, _ = await service.submit(ApprovalCreate(action="x", requested_by="U0ADA"), "agent")
    with pytest.raises(Forbidden, match="cannot approve it yourself"):
        await service.decide(approval.id, Decider("slack", "U0ADA", "Ada"), "approve")
    # Even an admin key acting for the same identity is refused.
    with pytest.raises(Forbidden):
        await service.decide(approval.id, Decider("api", "U0ADA", admin=True), "approve")
    # allow_self_approval on the level lets them.
    high, _ = await service.submit(ApprovalCreate(action="x", requested_by="U0ADA", risk={"cost_usd": 500}), "a")
    assert (await service.decide(high.id, Decider("slack", "U0ADA"), "approve")).status == "approved"


async def test_expiry_records_on_timeout_as_policy_decision(svc):
    service, clock, _app = svc
    rejecting, _ = await service.submit(ApprovalCreate(action="x"), "agent")
    approving, _ = await service.submit(ApprovalCreate(action="x", risk={"cost_usd": 500}), "agent")
    assert await service.expire(rejecting.id) is None  # not due yet
    clock.advance(timedelta(minutes=6))
    expired = await service.expire_due()
    assert [a.id for a in expired] == [approving.id]
    assert expired[0].status == "expired"
    assert expired[0].decision.outcome == "approve" and expired[0].decision.by.channel == "policy"
    assert expired[0].decision.args == {}
    clock.advance(timedelta(minutes=5))
    (late,) = await service.expire_due()
    assert late.status == "expired" and late.decision.outcome == "reject"
    assert late.decision.args is None
    assert (await service.events(late.id))[-1].type == "expired"
    assert await service.expire_due() == []


QUORUM_POLICY = """
levels:
  medium: {quorum: 2, timeout: 1h, approvers: [U0ADA, ada@corp.com, bob@corp.com]}
  high: {timeout: 4h, on_timeout: approve}
rules:
  - {name: big, match: {cost_usd: {gt: 100}}, level: high}
"""


@pytest.fixture
async def quorum_svc(settings):
    async with running_app(settings, QUORUM_POLICY) as app:
        yield app.runtime.service


async def test_one_person_counts_once_across_channels(quorum_svc):
    service = quorum_svc
    approval, _ = await service.submit(ApprovalCreate(action="x"), "agent")
    ada_slack = Decider("slack", "U0ADA", "Ada", identities=frozenset({"ada@corp.com"}))
    ada_web = Decider("web", "ada@corp.com", "Ada", identities=frozenset({"ada@corp.com"}))
    first = await service.decide(approval.id, ada_slack, "approve")
    assert first.status == "pending"
    with pytest.raises(Conflict):
        await service.decide(approval.id, ada_web, "approve")
    assert (await service.get(approval.id)).status == "pending"
    done = await service.decide(approval.id, Decider("web", "bob@corp.com", "Bob"), "approve")
    assert done.status == "approved"


async def test_a_modify_under_quorum_clears_earlier_approvals(quorum_svc):
    service = quorum_svc
    approval, _ = await service.submit(ApprovalCreate(action="pay", args={"amount": 10}), "agent")
    await service.decide(approval.id, Decider("web", "ada@corp.com"), "approve")
    changed = await service.decide(approval.id, Decider("web", "bob@corp.com"), "modify", args={"amount": 10**6})
    assert changed.status == "pending"
    assert [v.by.id for v in changed.approvals] == ["bob@corp.com"]
    final = await service.decide(approval.id, Decider("web", "ada@corp.com"), "approve")
    assert final.status == "approved" and final.decision.args == {"amount": 10**6}
    assert {v.by.id for v in final.approvals} == {"ada@corp.com", "bob@corp.com"}


async def test_agent_timeout_cannot_shorten_an_approving_timeout(quorum_svc):
    service = quorum_svc
    approval, _ = await service.submit(ApprovalCreate(action="x", risk={"cost_usd": 500}, timeout_s=1), "agent")
    assert (approval.expires_at - approval.created_at).total_seconds() == 4 * 3600
    rejecting, _ = await service.submit(ApprovalCreate(action="x", timeout_s=60), "agent")
    assert (rejecting.expires_at - rejecting.created_at).total_seconds() == 60
