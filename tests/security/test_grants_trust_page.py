"""The Trust page shows grants to every signed-in person, but a grant made through the API may hold the value
of a secret argument in a condition: only admins see condition values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape

from tests.support.servers import APPROVER_KEY, auth, make_settings, running_app
from tests.support.web import ADA, POLICY, sign_in

SECRET = "sk_live_GRANTVALUE12345"


async def _trust_page_with_a_secret_grant(redis_server, admin: bool) -> str:
    async with running_app(make_settings(redis_server.url), POLICY) as running:
        expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        created = await running.client.post(
            "/v1/grants",
            headers=auth(APPROVER_KEY),
            json={
                "agent": "billing-agent",
                "action": "payments.charge",
                "args": {"api_key": {"eq": SECRET}, "amount": {"lte": 100}},
                "max_level": "medium",
                "expires_at": expires,
                "reason": "test",
            },
        )
        assert created.status == 201, await created.text()
        await sign_in(running, ADA, admin=admin)
        return unescape(await (await running.client.get("/trust")).text())


async def test_grant_condition_values_are_hidden_from_non_admins_on_the_trust_page(redis_server):
    page = await _trust_page_with_a_secret_grant(redis_server, admin=False)
    assert "payments.charge" in page and "api_key" in page  # the grant is listed, its paths shown
    assert SECRET not in page and '"lte": 100' not in page


async def test_admins_see_grant_condition_values(redis_server):
    page = await _trust_page_with_a_secret_grant(redis_server, admin=True)
    assert SECRET in page and '"lte": 100' in page
