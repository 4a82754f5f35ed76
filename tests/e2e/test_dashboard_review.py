"""The reviewer's five seconds, in real headless Chromium at 1280×800 and 390×844: the summary and the
decision controls on the first screen, the most urgent request first, the diff after a modify, a batch with a
critical request asking for a reason and a second look, the keyboard, and a question's Answer box.

With DASHBOARD_SCREENSHOTS=<dir> the test also writes the screenshots docs/ shows (queue, request, modify
diff, phone): `DASHBOARD_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/e2e/test_dashboard_review.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON
from tests.support.servers import AGENT_KEY, RunningApp, auth, make_settings, running_app
from tests.support.web import ADA, GRACE, file_request

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON)
POLICY = f"""
default_level: medium
levels:
  low: {{auto_approve: true}}
  medium: {{channels: [{{web: queue}}], approvers: [{ADA}, {GRACE}], timeout: 4h}}
  high: {{channels: [{{web: queue}}], approvers: [{GRACE}], timeout: 1h}}
  critical: {{channels: [{{web: queue}}], approvers: [{ADA}, {GRACE}], quorum: 2, timeout: 2h}}
rules:
  - name: big-spend
    match: {{cost_usd: {{gt: 100}}}}
    level: high
  - name: drops
    match: {{action: "db.drop*"}}
    level: critical
"""
VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LONG_SQL = (
    "DELETE FROM invoices WHERE customer_id IN (SELECT id FROM customers WHERE region = 'eu' AND "
    "created_at < '2020-01-01' AND status = 'closed' AND balance = 0)"
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


async def sign_in_browser(running: RunningApp, page: Any, email: str) -> None:
    from bot.channels.web.state import WEB

    link = await running.client.app[WEB].auth.make_link(email, running.runtime.clock.now())
    await page.goto(running.url + "/" + link.split("://", 1)[1].split("/", 1)[1])
    await page.click("#sign-in")
    await page.wait_for_selector("h1:has-text('Pending requests')")


async def in_view(page: Any, selector: str) -> bool:
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    return (
        bool(box)
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= size["width"]
    )


async def no_horizontal_overflow(page: Any) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def shoot_to(name: str, viewport: str, tmp_path: Path) -> list[Path]:
    paths = [tmp_path / f"{viewport}-{name}.png"]
    if target := os.environ.get("DASHBOARD_SCREENSHOTS"):
        Path(target).mkdir(parents=True, exist_ok=True)
        paths.append(Path(target) / f"{viewport}-{name}.png")
    return paths


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_the_reviewers_five_seconds(redis_server, browser, tmp_path: Path, viewport: str):
    clock = FrozenClock(datetime.now(UTC))
    async with running_app(make_settings(redis_server.url), POLICY, clock) as running:
        # Filed oldest first: newest-first would put the most urgent last.
        drop = await file_request(
            running, "db.drop_table", args={"table": "sessions"}, context={"why": "free disk", "reversible": False}
        )
        urgent = await file_request(
            running,
            "infra.rotate_keys",
            args={"scope": "all"},
            timeout_s=3060,
            risk={"level": "high"},
            context={"why": "leaked key"},
        )
        payment = await file_request(
            running,
            "payments.refund_charge",
            args={"charge_id": "ch_123", "amount": 2650.75, "currency": "usd"},
            risk={"cost_usd": 2650.75},
            requested_by="dana@example.com",
            context={
                "alternatives": "partial refund",
                "why": "customer charged twice",
                "affected": "customer 4411",
                "reversible": False,
            },
            sql=LONG_SQL,
        )
        scale = await file_request(
            running,
            "k8s.scale",
            args={"deployment": "api", "replicas": 12, "image": "v1"},
            context={"why": "traffic spike"},
        )
        routine = [await file_request(running, "db.query", args={"n": n}) for n in range(3)]
        expiring = await file_request(running, "cache.flush", args={}, timeout_s=1000)
        question = await (
            await running.client.post(
                "/v1/questions",
                json={"question": "Which region should the <b>nightly</b> job use?"},
                headers=auth(AGENT_KEY),
            )
        ).json()
        clock.advance(timedelta(seconds=950))  # `expiring` has 5 % of its time left

        context = await browser.new_context(viewport=VIEWPORTS[viewport])
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        await sign_in_browser(running, page, GRACE)

        # Urgency first: critical, then the high request with the least time left, then the other high one.
        ids = await page.locator("#rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
        assert ids[:3] == [drop["id"], urgent["id"], payment["id"]]
        assert "urgent" in (await page.locator(f"tr[data-id='{expiring['id']}'] td.left").get_attribute("class"))
        assert await no_horizontal_overflow(page)
        if viewport == "phone":
            assert not await page.locator("#filters-box").get_attribute("open")  # one button, closed
            assert not await page.locator("select[name=level]").is_visible()
        for path in shoot_to("queue", viewport, tmp_path):
            await page.screenshot(path=str(path))

        # The request: summary first with the amount; decision controls in view without scrolling.
        await page.goto(f"{running.url}/requests/{payment['id']}")
        summary = await page.inner_text("#summary")
        assert "$2,650.75" in summary and "NOT reversible" in summary and "customer 4411" in summary
        assert "dana@example.com" in summary and "over the $100 limit" in summary
        assert await in_view(page, "#approve-button") and await in_view(page, "#reject-button")
        assert await in_view(page, "#summary")
        assert await no_horizontal_overflow(page)
        keys = ["why", "affected", "reversible", "alternatives"]
        shown = await page.locator("dl.context dt").all_inner_texts()
        assert shown == keys
        assert await page.locator("#sql mark.danger").first.inner_text() == "DELETE"
        assert "a" in await page.inner_text("#shortcuts")
        for path in shoot_to("request", viewport, tmp_path):
            await page.screenshot(path=str(path))

        # Modify: the page then shows what changed, field by field.
        await page.goto(f"{running.url}/requests/{scale['id']}")
        await page.keyboard.press("m")
        await page.fill("#args-editor", json.dumps({"deployment": "api", "replicas": 4, "dry_run": True}))
        await page.click("#modify-form button")
        await page.wait_for_selector("#confirmation")
        diff = await page.inner_text("#diff")
        assert "replicas" in diff and "12" in diff and "4" in diff and "dry_run" in diff and "image" in diff
        assert await page.locator("#next-pending").count() == 1
        for path in shoot_to("modify-diff", viewport, tmp_path):
            await page.screenshot(path=str(path), full_page=True)
        body = await (await running.client.get(f"/v1/approvals/{scale['id']}", headers=auth())).json()
        assert {"path": "replicas", "change": "changed", "old": 12, "new": 4} in body["decision"]["changes"]

        # The keyboard approves.
        await page.goto(f"{running.url}/requests/{routine[0]['id']}")
        await page.keyboard.press("a")
        await page.wait_for_selector("#confirmation")
        assert "approved" in await page.inner_text("#confirmation")

        # A batch with a critical request asks for a reason, then lists the actions before acting.
        await page.goto(running.url + "/")
        for approval in (drop, routine[1]):
            await page.check(f"#rows input[value='{approval['id']}']")
        await page.click("#batch button.approve")
        await page.wait_for_selector("#batch-confirm")
        listed = await page.inner_text("#batch-list")
        assert "db.drop_table" in listed and "db.query" in listed
        assert (await running.client.get(f"/v1/approvals/{routine[1]['id']}", headers=auth())).status == 200
        await page.click("#confirm-batch")  # no reason typed: the browser holds the form
        assert "/batch" in page.url and await page.locator("#batch-summary").count() == 0
        await page.fill("#confirm-comment", "planned maintenance")
        await page.click("#confirm-batch")
        await page.wait_for_selector("#batch-summary")
        result = await page.inner_text("main")
        assert "db.query" in result and "db.drop_table" in result and routine[1]["id"] not in result

        # A question: the question, an Answer box and Decline; no Approve, Reject or Modify.
        await page.goto(f"{running.url}/requests/{question['id']}")
        assert "Which region should the <b>nightly</b> job use?" in await page.inner_text("#question-text")
        assert await page.locator("#answer").is_visible() and await page.locator("#decline-button").is_visible()
        for absent in ("#approve-button", "#reject-button", "#modify-box", "#args"):
            assert await page.locator(absent).count() == 0, absent
        await page.fill("#answer", "eu-west-1")
        await page.click("#answer-button")
        await page.wait_for_selector("#confirmation")
        answered = await (await running.client.get(f"/v1/approvals/{question['id']}", headers=auth())).json()
        assert answered["status"] == "approved" and answered["decision"]["comment"] == "eu-west-1"
        assert problems == []
        await context.close()
