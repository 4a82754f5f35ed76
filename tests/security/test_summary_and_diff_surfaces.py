"""The summary block and the modify diff are new places agent text appears (docs/security.md §6/6b): markup
stays text, secret values changed by a modify stay masked for people, and only the agent's own view of
`decision.changes` carries the real values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import unescape

import pytest

from bot.embedded import EmbeddedRedis
from bot.redaction import MASK_PREFIX
from tests.security.redaction_support import SECRET_ARGS, leaked
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth, make_settings, running_app
from tests.support.web import ADA, BOB, POLICY, file_request, sign_in

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
async def web_app(redis_server: EmbeddedRedis) -> AsyncIterator[RunningApp]:
    async with running_app(make_settings(redis_server.url, countersign_web_users=BOB), POLICY) as running:
        yield running


async def _modify(running: RunningApp, approval_id: str, args: dict[str, object]) -> None:
    response = await running.client.post(
        f"/v1/approvals/{approval_id}/decision",
        headers=auth(APPROVER_KEY),
        json={"outcome": "modify", "args": args, "comment": "changed"},
    )
    assert response.status == 200, await response.text()


async def test_markup_in_summary_and_diff_is_shown_as_text(web_app: RunningApp) -> None:
    approval = await file_request(
        web_app,
        "deploy" + HOSTILE,
        args={"target": "a", "note": HOSTILE},
        requested_by=HOSTILE,
        risk={"cost_usd": 500},
        context={"affected": HOSTILE, "why": HOSTILE, "reversible": False},
    )
    await sign_in(web_app, ADA)
    pending = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    summary = pending[pending.index('id="summary"') : pending.index("</section>", pending.index('id="summary"'))]
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in summary and "<script>" not in summary
    assert "<img" not in pending and "<script>alert" not in pending
    await _modify(web_app, approval["id"], {"target": HOSTILE, "note": "x", "added": HOSTILE})
    decided = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    diff = decided[decided.index('id="diff"') : decided.index("</section>", decided.index('id="diff"'))]
    assert "target" in diff and "added" in diff and "&lt;img" in diff
    assert "<img" not in decided and "<script>alert" not in decided
    queue = await (await web_app.client.get("/?sort=newest")).text()
    assert "<img" not in queue and "<script>alert" not in queue


async def test_secret_changed_by_a_modify_stays_masked_in_the_diff(web_app: RunningApp) -> None:
    approval = await file_request(web_app, "payments.charge", args=SECRET_ARGS)
    await _modify(web_app, approval["id"], {**SECRET_ARGS, "stripe_api_key": "sk_live_ROTATED777", "amount": 1300})
    await sign_in(web_app, ADA)
    page = unescape(await (await web_app.client.get(f"/requests/{approval['id']}")).text())
    diff = page[page.index('id="diff"') : page.index("</section>", page.index('id="diff"'))]
    assert "stripe_api_key" in diff and MASK_PREFIX in diff and "1300" in diff
    assert "sk_live_ROTATED777" not in page and leaked(page) == []
    # The agent sent those values: its own view of the change carries them.
    mine = await (await web_app.client.get(f"/v1/approvals/{approval['id']}", headers=auth(AGENT_KEY))).json()
    assert {
        "path": "stripe_api_key",
        "change": "changed",
        "old": "sk_live_APIKEY4242",
        "new": "sk_live_ROTATED777",
    } in mine["decision"]["changes"]
    assert {"path": "amount", "change": "changed", "old": 1200, "new": 1300} in mine["decision"]["changes"]


async def test_unmodified_decision_has_no_changes(web_app: RunningApp) -> None:
    approval = await file_request(web_app, "db.query", args={"n": 1})
    response = await web_app.client.post(
        f"/v1/approvals/{approval['id']}/decision", headers=auth(APPROVER_KEY), json={"outcome": "approve"}
    )
    assert response.status == 200
    body = await (await web_app.client.get(f"/v1/approvals/{approval['id']}", headers=auth(AGENT_KEY))).json()
    assert body["decision"]["changes"] is None
