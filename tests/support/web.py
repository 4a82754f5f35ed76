"""Helpers for dashboard tests: a policy with email approvers, sign-in, CSRF scraping, filing requests."""

from __future__ import annotations

import re
from typing import Any

from tests.support.servers import AGENT_KEY, RunningApp, auth

ADA, GRACE, BOB = "ada@example.com", "grace@example.com", "bob@example.com"
POLICY = f"""
default_level: medium
levels:
  low: {{auto_approve: true}}
  medium: {{channels: [{{web: queue}}], approvers: [{ADA}, {GRACE}], timeout: 1h, require_reason: [reject]}}
  high: {{channels: [{{web: queue}}], approvers: [{GRACE}], timeout: 1h}}
  critical: {{channels: [{{web: queue}}], approvers: [{ADA}, {GRACE}], quorum: 2, timeout: 30m}}
rules:
  - name: routine
    match: {{action: "cache.*"}}
    level: low
  - name: refunds
    match: {{action: "payments.refund*"}}
    level: high
  - name: drops
    match: {{action: "db.drop*"}}
    level: critical
"""
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def sign_in(running: RunningApp, email: str, admin: bool = False) -> str:
    """Sign in through a magic link the server signed; returns the session's CSRF token."""
    state = running.client.app[_web_key()]
    link = await state.auth.make_link(email, running.runtime.clock.now(), admin=admin)
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = await running.client.get("/" + path)
    assert page.status == 200, await page.text()
    done = await running.client.post("/" + path, data={"csrf": csrf_of(await page.text())}, allow_redirects=False)
    assert done.status == 303, await done.text()
    home = await running.client.get("/")
    assert home.status == 200
    return csrf_of(await home.text())


def _web_key() -> Any:
    from bot.channels.web.state import WEB

    return WEB


async def file_request(
    running: RunningApp, action: str = "db.query", key: str = AGENT_KEY, **fields: Any
) -> dict[str, Any]:
    response = await running.client.post("/v1/approvals", json={"action": action, **fields}, headers=auth(key))
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def status_of(running: RunningApp, approval_id: str) -> str:
    response = await running.client.get(f"/v1/approvals/{approval_id}", headers=auth(AGENT_KEY))
    body = await response.json()
    return str(body["status"])
