"""The dashboard in real headless Chromium: sign in by mailed link, filter, batch-approve, modify, CSRF."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON
from tests.support.servers import (
    AGENT_KEY,
    APPROVER_KEY,
    OTHER_AGENT_KEY,
    RunningApp,
    auth,
    make_settings,
    running_app,
)
from tests.support.smtp import smtp_server
from tests.support.web import BOB, GRACE, POLICY, file_request, status_of

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON)
LINK = re.compile(r"(http://\S+/login/\S+)")
SCHEMA = {
    "type": "object",
    "required": ["amount"],
    "additionalProperties": False,
    "properties": {"amount": {"type": "number", "maximum": 100}, "reason": {"type": "string"}},
}


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


async def long_poll(running: RunningApp, approval_id: str, key: str) -> dict[str, object]:
    response = await running.client.get(f"/v1/approvals/{approval_id}?wait=30", headers=auth(key))
    body: dict[str, object] = await response.json()
    return body


async def test_reviewer_clears_a_queue_in_the_browser(redis_server, browser, tmp_path: Path):
    with smtp_server() as (smtp_url, inbox):
        settings = make_settings(redis_server.url, smtp_url=smtp_url, countersign_web_users=BOB)
        async with running_app(settings, POLICY) as running:
            ours = [
                await file_request(running, "db.query", args={"table": f"t{n}"}, context={"why": f"nightly report {n}"})
                for n in range(5)
            ]
            theirs = [await file_request(running, "db.query", key=OTHER_AGENT_KEY) for _ in range(2)]
            refund = await file_request(
                running,
                "payments.refund",
                args={"amount": 80},
                args_schema=SCHEMA,
                context={"why": "customer charged twice"},
            )
            context = await browser.new_context(
                viewport={"width": 1200, "height": 800},  # type: ignore[attr-defined]
                accept_downloads=True,
            )
            page = await context.new_page()
            problems: list[str] = []  # script errors and CSP violations
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            # Sign in through the mailed magic link.
            await page.goto(running.url + "/")
            assert "/login" in page.url
            await page.fill("#email", GRACE)
            await page.click("text=Email me a link")
            await page.wait_for_selector("text=a link is on its way")
            message = await asyncio.wait_for(inbox.get(), 10)
            link = LINK.search(message.get_content())
            assert message["To"] == GRACE and link
            assert link.group(1).startswith(settings.countersign_public_url + "/login/")
            # The link names COUNTERSIGN_PUBLIC_URL; the test server listens on a free port instead.
            await page.goto(running.url + "/" + link.group(1).split("/", 3)[3])
            await page.click("#sign-in")
            await page.wait_for_selector("h1:has-text('Pending requests')")
            assert await page.locator("#rows tr[data-id]").count() == 8

            # Keyboard: the first Tab lands on the skip link.
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.className") == "skip"

            # Filter the queue.
            await page.fill("input[name=agent]", "other-agent")
            await page.click("button:has-text('Filter')")
            await page.wait_for_url(re.compile(r"agent=other-agent"))
            shown = await page.locator("#rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
            assert sorted(shown) == sorted(a["id"] for a in theirs)
            await page.fill("input[name=agent]", "billing-agent")
            await page.fill("input[name=action]", "db.query")
            await page.click("button:has-text('Filter')")
            await page.wait_for_url(re.compile(r"action=db.query"))
            assert await page.locator("#rows tr[data-id]").count() == 5

            # Batch-approve three while their agents long-poll.
            chosen = [a["id"] for a in ours[:3]]
            polls = [asyncio.create_task(long_poll(running, i, AGENT_KEY)) for i in chosen]  # agent's key
            for approval_id in chosen:
                await page.check(f"#rows input[value='{approval_id}']")
            await page.fill("#batch-comment", "reviewed the nightly batch")
            assert not any(p.done() for p in polls)
            await page.click("#batch button.approve")
            await page.wait_for_selector("#batch-summary")
            assert "Approved 3." in await page.inner_text("#batch-summary")
            answers = await asyncio.wait_for(asyncio.gather(*polls), 10)
            for answer in answers:
                assert answer["status"] == "approved"
                assert answer["decision"]["by"]["channel"] == "web"  # type: ignore[index]
                assert answer["decision"]["comment"] == "reviewed the nightly batch"  # type: ignore[index]
            assert await status_of(running, ours[3]["id"]) == "pending"

            # Live queue: a new request appears without a reload, a decided one leaves.
            await page.goto(running.url + "/")
            await page.wait_for_selector(f"#rows tr[data-id='{ours[3]['id']}']")
            fresh = await file_request(running, "deploy.app", context={"why": "ship release 4.2"})
            await page.wait_for_selector(f"#rows tr[data-id='{fresh['id']}']", timeout=10_000)
            await page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
            decided = await running.client.post(
                f"/v1/approvals/{fresh['id']}/decision",
                json={"outcome": "reject", "comment": "not now"},
                headers=auth(APPROVER_KEY),
            )
            assert decided.status == 200
            await page.wait_for_selector(f"#rows tr[data-id='{fresh['id']}']", state="detached", timeout=10_000)

            # Phone width: nothing wider than the screen but the scrollable table.
            await page.set_viewport_size({"width": 375, "height": 740})
            overflow = await page.evaluate("document.body.scrollWidth - window.innerWidth")
            assert overflow <= 0

            # Modify one request's arguments: the editor checks JSON and the schema before sending.
            await page.set_viewport_size({"width": 1200, "height": 800})
            await page.goto(f"{running.url}/requests/{refund['id']}")
            assert "customer charged twice" in await page.inner_text("main")
            await page.click("summary:has-text('Modify')")
            await page.fill("#args-editor", '{"amount": 40')
            await page.click("#modify-form button")
            assert "not valid JSON" in await page.inner_text("#args-problem")
            await page.fill("#args-editor", json.dumps({"amount": 500, "extra": 1}))
            await page.click("#modify-form button")
            problem = await page.inner_text("#args-problem")
            assert "args.amount" in problem and "args.extra" in problem
            assert await status_of(running, refund["id"]) == "pending"  # nothing was sent
            edited = json.dumps({"amount": 40, "reason": "refund one charge"}, indent=2)
            await page.fill("#args-editor", edited)
            await page.fill("#modify-comment", "refund one of the two charges")
            await page.click("#modify-form button")
            await page.wait_for_selector("#confirmation")
            assert "with changed arguments" in await page.inner_text("#confirmation")
            body = await (await running.client.get(f"/v1/approvals/{refund['id']}", headers=auth())).json()
            assert body["status"] == "approved"
            assert body["decision"]["args"] == {"amount": 40, "reason": "refund one charge"}

            # A POST without the CSRF token is refused, even from a signed-in browser.
            target = ours[4]["id"]
            status = await page.evaluate(
                """async (id) => (await fetch('/requests/' + id + '/decide', {method: 'POST',
                       body: new URLSearchParams({outcome: 'approve'})})).status""",
                target,
            )
            assert status == 403
            assert await status_of(running, target) == "pending"

            # Export the audit trail from the history page.
            await page.goto(running.url + "/history")
            assert await page.locator("tbody tr[data-id]").count() == 5  # 3 batch + 1 modify + 1 reject
            async with page.expect_download() as download_info:
                await page.click("#export")
            download = await download_info.value
            exported = await asyncio.to_thread(Path(await download.path()).read_text)
            assert exported.startswith("id,at,type,approval_id")
            assert exported.count(",decision,") == 5
            # The deliberate 403 above is the only error the browser reported.
            assert [p for p in problems if "403" not in p] == []
            await context.close()
