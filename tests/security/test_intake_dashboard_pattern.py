"""§3: the dashboard's modify editor never runs an agent's `pattern` in the approver's browser (JavaScript's
RegExp has no time limit: one crafted pattern froze the tab, Reject button included, on every keystroke)."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.web.state import WEB
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON
from tests.support.servers import make_settings, running_app
from tests.support.web import GRACE, POLICY, file_request

SLOW = "^([a-z]|[a-z0-9])*$"


@pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON)
async def test_agent_pattern_does_not_freeze_the_approvers_browser(redis_server):
    from playwright.async_api import async_playwright

    settings = make_settings(redis_server.url, countersign_web_users=GRACE)
    async with running_app(settings, POLICY) as running, async_playwright() as playwright:
        schema = {"type": "object", "properties": {"p": {"type": "string", "pattern": SLOW}}}
        approval = await file_request(running, "payments.refund", args={"p": "a"}, args_schema=schema)
        link = await running.client.app[WEB].auth.make_link(GRACE, running.runtime.clock.now())
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await chromium.new_page()
            page.set_default_timeout(10_000)
            await page.goto(running.url + "/" + link.split("/", 3)[3])
            await page.click("#sign-in")
            await page.wait_for_url(running.url + "/")
            await page.goto(f"{running.url}/requests/{approval['id']}")
            await page.click("summary:has-text('Modify')")
            await page.fill("#args-editor", '{"p": "' + "a" * 40 + '!"}')  # fires the editor's check
            # The tab still answers at once: no exponential RegExp is running in it.
            assert await asyncio.wait_for(page.evaluate("1 + 1"), 3) == 2
        finally:
            await chromium.close()
