"""6b on the dashboard: secret values are masked on the request page, the queue, the history and the export;
only an admin can reveal them, by an explicit POST that the audit trail records with who did it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape

import pytest

from bot.embedded import EmbeddedRedis
from bot.redaction import MASK_PREFIX
from tests.security.redaction_support import SECRET_ARGS, leaked
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth, make_settings, running_app
from tests.support.web import ADA, BOB, POLICY, file_request, sign_in

EDITOR = re.compile(r'<textarea id="args-editor"[^>]*>(.*?)</textarea>', re.S)


@pytest.fixture
async def web_app(redis_server: EmbeddedRedis) -> AsyncIterator[RunningApp]:
    settings = make_settings(redis_server.url, countersign_web_users=BOB)
    async with running_app(settings, POLICY) as running:
        yield running


async def _events(running: RunningApp, approval_id: str, key: str = APPROVER_KEY) -> list[dict[str, object]]:
    # An approver key sees who did what (agents see approvers by channel only: test_events_approver_identities).
    response = await running.client.get(f"/v1/approvals/{approval_id}/events", headers=auth(key))
    return list(await response.json())


async def test_dashboard_pages_and_export_show_no_secret_values(web_app: RunningApp) -> None:
    approval = await file_request(web_app, "payments.charge", args=SECRET_ARGS)
    decided = await file_request(web_app, "payments.charge", args=SECRET_ARGS)
    await sign_in(web_app, ADA, admin=True)  # an admin too sees masks until they ask to reveal
    page = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    assert "api.example.com" in page and MASK_PREFIX in page and leaked(unescape(page)) == []
    assert 'action="/requests/' + approval["id"] + '/reveal"' in page
    queue = await (await web_app.client.get("/")).text()
    assert leaked(unescape(queue)) == []
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    await web_app.client.post(
        f"/requests/{decided['id']}/decide", data={"csrf": csrf, "outcome": "approve"}, allow_redirects=False
    )
    history = await (await web_app.client.get("/history")).text()
    exported = await (await web_app.client.get("/history/export?format=jsonl")).text()
    assert decided["id"] in exported and leaked(unescape(history)) == [] and leaked(exported) == []


async def test_admin_reveal_is_an_audited_post(web_app: RunningApp) -> None:
    approval = await file_request(web_app, "payments.charge", args=SECRET_ARGS)
    csrf = await sign_in(web_app, ADA, admin=True)
    # A GET never reveals; the reveal is a POST carrying the form's CSRF token.
    assert (await web_app.client.get(f"/requests/{approval['id']}/reveal")).status in (404, 405)
    assert "revealed" not in [e["type"] for e in await _events(web_app, approval["id"])]
    revealed = await web_app.client.post(f"/requests/{approval['id']}/reveal", data={"csrf": csrf})
    assert revealed.status == 200
    page = unescape(await revealed.text())
    assert set(leaked(page)) == {
        "sk-live-AUTHHEADER1234",
        "COOKIEVALUE5678",
        "hunter2-DBPASS",
        "whsec_HOOKSECRET99",
        "sk_live_APIKEY4242",
    }
    [event] = [e for e in await _events(web_app, approval["id"]) if e["type"] == "revealed"]
    assert event["actor"] == {"channel": "web", "id": ADA, "name": ADA}  # type: ignore[comparison-overlap]
    # The next plain view is masked again.
    again = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    assert leaked(unescape(again)) == []


async def test_non_admin_cannot_reveal_secret_values(web_app: RunningApp) -> None:
    approval = await file_request(web_app, "payments.charge", args=SECRET_ARGS)
    csrf = await sign_in(web_app, ADA)  # an approver of this level, not an admin
    page = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    assert "/reveal" not in page
    refused = await web_app.client.post(f"/requests/{approval['id']}/reveal", data={"csrf": csrf})
    assert refused.status == 403 and leaked(unescape(await refused.text())) == []
    types = [(e["type"], (e.get("detail") or {}).get("reason")) for e in await _events(web_app, approval["id"])]
    assert ("refused", "not_admin") in types and "revealed" not in [t for t, _ in types]


async def test_dashboard_modify_keeps_masked_values_and_takes_replaced_ones(web_app: RunningApp) -> None:
    approval = await file_request(web_app, "payments.charge", args=SECRET_ARGS)
    await sign_in(web_app, ADA)
    page = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    editor = json.loads(unescape(EDITOR.search(page).group(1)))  # type: ignore[union-attr]
    assert editor["headers"]["Authorization"].startswith(MASK_PREFIX)
    editor["stripe_api_key"] = "sk_live_REPLACED"
    done = await web_app.client.post(
        f"/requests/{approval['id']}/decide",
        allow_redirects=False,
        data={"csrf": csrf, "outcome": "modify", "args": json.dumps(editor)},
    )
    assert done.status == 303, await done.text()
    decided = await (await web_app.client.get(f"/v1/approvals/{approval['id']}", headers=auth(AGENT_KEY))).json()
    assert decided["status"] == "approved"
    assert decided["decision"]["args"] == {**SECRET_ARGS, "stripe_api_key": "sk_live_REPLACED"}
    after = unescape(await (await web_app.client.get(f"/requests/{approval['id']}")).text())
    assert leaked(after) == [] and "sk_live_REPLACED" not in after


async def test_schema_error_on_modify_does_not_quote_a_masked_secret(web_app: RunningApp) -> None:
    # The agent files a schema its own secret fails; when an approver modifies another field, the mask is
    # restored to the real value before validation, and the error must not quote that value back.
    secret = "Bearer sk_live_QUOTEDBACK1234"
    schema = {
        "type": "object",
        "properties": {"authorization": {"type": "string", "maxLength": 3}, "amount": {"type": "integer"}},
    }
    approval = await file_request(
        web_app, "payments.charge", args={"authorization": secret, "amount": 1}, args_schema=schema
    )
    await sign_in(web_app, ADA)
    page = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    editor = json.loads(unescape(EDITOR.search(page).group(1)))  # type: ignore[union-attr]
    assert editor["authorization"].startswith(MASK_PREFIX)
    editor["amount"] = 2
    refused = await web_app.client.post(
        f"/requests/{approval['id']}/decide",
        allow_redirects=False,
        data={"csrf": csrf, "outcome": "modify", "args": json.dumps(editor)},
    )
    text = unescape(await refused.text())
    assert refused.status == 400 and "maxLength" in text
    assert "QUOTEDBACK" not in text
