"""The read use cases every human channel uses (bot/service.py): view, search, decidable_by, stats.

Against the real Redis, without the HTTP app (the fast tier)."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.bootstrap import build_runtime
from bot.clock import FrozenClock, SystemClock
from bot.models import ApprovalCreate, Status
from bot.policy import parse_policy
from bot.search import DECIDED, Search
from bot.service import ApprovalService, Decider

POLICY = """
levels:
  medium:
    approvers: ["U0ADA"]
  high:
    approvers: ["U0BOB"]
rules:
  - {name: drops, match: {action: drop_table}, level: high}
"""
ADA = Decider("slack", "U0ADA", "Ada")
BOB = Decider("slack", "U0BOB", "Bob")


@pytest.fixture
async def service(settings) -> AsyncIterator[ApprovalService]:
    runtime = build_runtime(
        settings,
        settings.redis_url or "",
        clock=FrozenClock(SystemClock().now()),
        policy=parse_policy(POLICY, "<test>"),
    )
    try:
        yield runtime.service
    finally:
        await runtime.redis.aclose()


async def file(service: ApprovalService, action: str, agent: str = "billing-agent", **args: object) -> str:
    approval, _ = await service.submit(ApprovalCreate(action=action, args=dict(args)), agent)
    return approval.id


async def test_search_filters_by_status_level_agent_action_and_text(service):
    deploy = await file(service, "deploy", target="api")
    drop = await file(service, "drop_table", table="users")
    other = await file(service, "deploy", agent="other-agent", target="billing")
    await service.decide(deploy, ADA, "approve")

    async def ids(**filters: object) -> list[str]:
        return [a.id for a in (await service.search(Search(**filters), 50)).items]  # type: ignore[arg-type]

    assert await ids() == [other, drop, deploy]  # newest first
    assert await ids(status=Status.pending.value) == [other, drop]
    assert await ids(status=DECIDED) == [deploy]
    assert await ids(level="high") == [drop]
    assert await ids(agent="other-agent") == [other]
    assert await ids(action="deploy") == [other, deploy]
    assert await ids(text="users") == [drop]
    assert await ids(text="nothing like it") == []


async def test_search_pages_with_a_cursor_and_counts_every_match(service):
    filed = [await file(service, "deploy", n=n) for n in range(7)]
    first = await service.search(Search(), 3, count=True)
    assert [a.id for a in first.items] == filed[::-1][:3] and first.matched == 7
    second = await service.search(Search(), 3, first.next_cursor)
    third = await service.search(Search(), 3, second.next_cursor)
    assert [a.id for a in second.items + third.items] == filed[::-1][3:] and third.next_cursor is None


async def test_search_and_view_mask_secret_values(service):
    approval_id = await file(service, "login", password="hunter2")
    assert (await service.get(approval_id)).args["password"] == "hunter2"  # the agent's own copy
    assert "hunter2" not in str((await service.view(approval_id)).args)
    assert "hunter2" not in str((await service.search(Search(), 10)).items[0].args)


async def test_decidable_by_lists_only_what_the_decider_may_decide(service):
    medium = await file(service, "deploy")
    high = await file(service, "drop_table")
    assert [a.id for a in (await service.decidable_by(ADA, 10)).items] == [medium]
    assert [a.id for a in (await service.decidable_by(BOB, 10)).items] == [high]
    await service.decide(medium, ADA, "approve")
    assert (await service.decidable_by(ADA, 10)).items == []


async def test_stats_count_human_decisions_auto_decisions_and_pending(service):
    clock = service.clock
    decided = await file(service, "deploy")
    await file(service, "drop_table")
    clock.advance(timedelta(seconds=30))
    await service.decide(decided, ADA, "approve")
    figures = await service.stats(clock.now() - timedelta(days=1))
    assert figures.created == 2 and figures.human_decisions == 1 and figures.human_approvals == 1
    assert figures.median_s == 30 and figures.fast_approvals == 0
    assert figures.pending_total == 1 and figures.pending.get("high") == 1
