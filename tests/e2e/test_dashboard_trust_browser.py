"""Approve & trust similar… on the dashboard's request page, and Revoke on the Trust page, in Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.channels.web.state import WEB
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON
from tests.support.servers import APPROVER_KEY, auth, make_settings, running_app
from tests.support.web import GRACE, POLICY, file_request, status_of

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON)


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_approve_and_trust_from_the_request_page_then_revoke(redis_server, browser):
    settings = make_settings(redis_server.url)
    async with running_app(settings, POLICY) as running:
        await file_request(running, "db.query", args={"table": "t1", "limit": 10})
        target = await file_request(running, "db.query", args={"table": "t1", "limit": 10})
        context = await browser.new_context()  # type: ignore[attr-defined]
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        link = await running.client.app[WEB].auth.make_link(GRACE, running.runtime.clock.now())
        await page.goto(running.url + "/" + link.split("://", 1)[1].split("/", 1)[1])
        await page.click("#sign-in")
        await page.goto(f"{running.url}/requests/{target['id']}")
        await page.click("#trust-box summary")
        assert "covered 2 of the last 30 days" in await page.inner_text("#trust-coverage")
        labels = await page.locator("#trust-form label[for^=cond-]").all_inner_texts()
        assert labels == ["args.limit", "args.table"]
        assert await page.input_value("#cond-0") == '{"eq": 10}'
        await page.fill("#cond-0", '{"lte": 100}')  # loosen the limit
        await page.fill("#trust-uses", "3")
        await page.select_option("#trust-duration", "8h")
        await page.click("#trust-form button.approve")
        await page.wait_for_selector("#decision")
        assert await status_of(running, target["id"]) == "approved"
        [grant] = await (await running.client.get("/v1/grants", headers=auth(APPROVER_KEY))).json()
        assert grant["args"] == {"limit": {"lte": 100.0}, "table": {"eq": "t1"}} and grant["max_uses"] == 3
        assert grant["created_by"]["id"] == GRACE
        later = await file_request(running, "db.query", args={"table": "t1", "limit": 50})
        assert later["status"] == "approved" and later["decision"]["by"]["id"] == grant["id"]

        await page.goto(f"{running.url}/trust")
        assert grant["id"] in await page.inner_text("#grants")
        await page.click(f"#grant-{grant['id']} button.reject")
        await page.wait_for_selector("text=No active grants")
        assert (await file_request(running, "db.query", args={"table": "t1", "limit": 50}))["status"] == "pending"
        assert problems == []
