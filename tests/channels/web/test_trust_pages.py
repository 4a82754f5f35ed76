"""The Trust page: suggestions turned into grants with one click (admins), the automatic-revocation notice,
the outcome on the request page, and the rubber-stamp guard's refusal shown on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import FrozenClock, SystemClock
from tests.support.servers import APPROVER_KEY, auth, make_settings, running_app
from tests.support.web import ADA, GRACE, POLICY, file_request, sign_in


async def approve(running, approval_id: str) -> None:
    response = await running.client.post(
        f"/v1/approvals/{approval_id}/decision", headers=auth(APPROVER_KEY), json={"outcome": "approve"}
    )
    assert response.status == 200


async def five_approvals(running) -> None:
    for _ in range(5):
        await approve(running, (await file_request(running, "db.query", args={"table": "t1"}))["id"])


async def test_only_an_admin_may_turn_a_suggestion_into_a_grant(redis_server):
    async with running_app(make_settings(redis_server.url), POLICY) as running:
        await five_approvals(running)
        csrf = await sign_in(running, ADA)
        page = await (await running.client.get("/trust")).text()
        assert "approved 5 times" in page and "Create this grant" not in page
        refused = await running.client.post(
            "/trust/suggestions", data={"csrf": csrf, "agent": "billing-agent", "action": "db.query"}
        )
        assert refused.status == 403
        assert await (await running.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json() == []


async def test_suggestion_becomes_a_grant_with_one_click_by_an_admin(redis_server):
    async with running_app(make_settings(redis_server.url), POLICY) as running:
        await five_approvals(running)
        csrf = await sign_in(running, GRACE, admin=True)
        assert "Create this grant" in await (await running.client.get("/trust")).text()
        done = await running.client.post(
            "/trust/suggestions",
            allow_redirects=False,
            data={"csrf": csrf, "agent": "billing-agent", "action": "db.query"},
        )
        assert done.status == 303
        [grant] = await (await running.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json()
        assert grant["args"] == {"table": {"eq": "t1"}} and grant["created_by"]["id"] == GRACE
        assert "No suggestions." in await (await running.client.get("/trust")).text()  # granted now


async def test_auto_revocation_notice_and_outcome_on_the_request_page(redis_server):
    async with running_app(make_settings(redis_server.url), POLICY) as running:
        expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        await running.client.post(
            "/v1/grants",
            headers=auth(APPROVER_KEY),
            json={
                "agent": "billing-agent",
                "action": "db.query",
                "max_level": "medium",
                "expires_at": expires,
                "extra_args": True,
            },
        )
        approval = await file_request(running, "db.query")
        assert approval["status"] == "approved"
        await running.client.post(
            f"/v1/approvals/{approval['id']}/outcome",
            headers=auth(),
            json={"status": "failed", "detail": "<script>alert(1)</script>"},
        )
        await sign_in(running, ADA)
        trust = await (await running.client.get("/trust")).text()
        assert "Revoked automatically" in trust and "1 failed outcome" in trust
        page = await (await running.client.get(f"/requests/{approval['id']}")).text()
        assert "Ran: <strong>failed</strong>" in page
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


async def test_min_review_refusal_is_shown_on_the_request_page(redis_server):
    clock = FrozenClock(SystemClock().now())
    policy = POLICY.replace("medium: {channels", "medium: {min_review_s: 30, channels")
    async with running_app(make_settings(redis_server.url), policy, clock) as running:
        approval = await file_request(running, "db.query")
        csrf = await sign_in(running, ADA)
        clock.advance(timedelta(seconds=3))
        response = await running.client.post(
            f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "approve"}, allow_redirects=False
        )
        assert response.status == 403
        assert "filed 3 s ago — take a moment" in await response.text()
        clock.advance(timedelta(seconds=30))
        response = await running.client.post(
            f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "approve"}, allow_redirects=False
        )
        assert response.status == 303
