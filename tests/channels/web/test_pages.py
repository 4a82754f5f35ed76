"""Queue, request, batch, history, export and stats pages over plain HTTP, through the real service."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from bot.clock import FrozenClock
from tests.support.servers import APPROVER_KEY, OTHER_AGENT_KEY, auth, make_settings, running_app
from tests.support.web import ADA, BOB, GRACE, POLICY, file_request, sign_in, status_of

ROW = re.compile(r'<tr data-id="(apr_[0-9a-z]+)"')


def row_ids(html: str) -> list[str]:
    return ROW.findall(html)


async def test_queue_lists_pending_newest_first_and_filters(web_app):
    first = await file_request(web_app, "db.query", context={"why": "monthly report"})
    refund = await file_request(web_app, "payments.refund", args={"amount": 30})
    other = await file_request(web_app, "db.query", key=OTHER_AGENT_KEY)
    await file_request(web_app, "cache.warm")  # auto-approved: never queued
    await sign_in(web_app, ADA)
    html = await (await web_app.client.get("/?sort=newest")).text()
    assert row_ids(html) == [other["id"], refund["id"], first["id"]]
    assert "monthly report" in html
    # By default the most urgent first: the high-risk refund leads.
    assert row_ids(await (await web_app.client.get("/")).text())[0] == refund["id"]
    by_level = await (await web_app.client.get("/?level=high")).text()
    assert row_ids(by_level) == [refund["id"]]
    by_agent = await (await web_app.client.get("/?agent=other-agent")).text()
    assert row_ids(by_agent) == [other["id"]]
    by_action = await (await web_app.client.get("/?action=db.query&agent=billing-agent")).text()
    assert row_ids(by_action) == [first["id"]]
    older = await (await web_app.client.get("/?age=gt1h")).text()
    assert row_ids(older) == []
    newer = await (await web_app.client.get("/?age=lt15m&partial=1")).text()
    assert newer.startswith("<tbody") and len(row_ids(newer)) == 3


async def test_queue_pages_with_a_cursor(web_app):
    filed = [await file_request(web_app, "db.query", args={"n": n}) for n in range(55)]
    # Newest first; within one millisecond, by id descending (the index's order).
    ids = [a["id"] for a in sorted(filed, key=lambda a: (a["created_at"], a["id"]))]
    await sign_in(web_app, ADA)
    html = await (await web_app.client.get("/?sort=newest")).text()
    first_page = row_ids(html)
    assert first_page == ids[::-1][:50]
    cursor = re.search(r'cursor=([\w-]+)" rel="next"', html)
    assert cursor
    rest = row_ids(await (await web_app.client.get(f"/?sort=newest&cursor={cursor.group(1)}")).text())
    assert rest == ids[::-1][50:]


async def test_bad_filters_and_ids_get_a_clear_page(web_app):
    await sign_in(web_app, ADA)
    for path, status, text in (
        ("/?level=severe", 400, "unknown risk level"),
        ("/?age=forever", 400, "unknown age filter"),
        ("/?cursor=%%%", 400, "cursor"),
        ("/?agent=" + "x" * 300, 400, "too long"),
        ("/history?since=yesterday", 400, "date"),
        ("/history/export?format=xml", 400, "export format"),
        ("/stats?days=9999", 400, "unknown window"),
        ("/requests/apr_nope", 404, "no approval"),
        ("/requests/..%2F..%2Fetc", 400, "not a request id"),
    ):
        response = await web_app.client.get(path)
        assert response.status == status, path
        assert text in await response.text(), path


async def test_batch_approves_and_lists_what_it_skips(web_app):
    mine = [await file_request(web_app, "db.query") for _ in range(3)]
    refund = await file_request(web_app, "payments.refund")  # high: only grace may decide
    own = await file_request(web_app, "db.query", requested_by=ADA)  # ada asked: no self-approval
    csrf = await sign_in(web_app, ADA)
    ids = [a["id"] for a in mine] + [refund["id"], own["id"]]
    form = [("csrf", csrf), ("outcome", "approve"), ("comment", "looks fine"), ("scope", "selected")]
    # The high-risk refund in the batch: first a confirmation listing the actions, then the decision.
    confirm = await (await web_app.client.post("/batch", data=form + [("id", i) for i in ids])).text()
    assert 'id="batch-confirm"' in confirm and "payments.refund" in confirm
    assert await status_of(web_app, mine[0]["id"]) == "pending"
    response = await web_app.client.post("/batch", data=form + [("confirmed", "1")] + [("id", i) for i in ids])
    html = await response.text()
    assert response.status == 200
    assert "Approved 3; skipped 2" in html
    assert "db.query</a>" in html and mine[0]["id"] + "</a>" not in html  # actions, not ids
    assert "only the high-risk approvers" in html and "cannot approve it yourself" in html
    for approval in mine:
        assert await status_of(web_app, approval["id"]) == "approved"
    assert await status_of(web_app, refund["id"]) == "pending"
    decided = await (await web_app.client.get(f"/v1/approvals/{mine[0]['id']}", headers=auth())).json()
    assert decided["decision"]["by"] == {"channel": "web", "id": "web approver", "name": None}  # as agents see it
    full = await (await web_app.client.get(f"/v1/approvals/{mine[0]['id']}", headers=auth(APPROVER_KEY))).json()
    assert full["decision"]["by"] == {"channel": "web", "id": ADA, "name": ADA}
    assert decided["decision"]["comment"] == "looks fine"
    again = await web_app.client.post("/batch", data={"csrf": csrf, "outcome": "approve", "id": mine[0]["id"]})
    assert "skipped 1" in await again.text() and "already approved" in await again.text()


async def test_batch_rejects_all_matching_but_nothing_newer_than_the_page(redis_server):
    clock = FrozenClock(datetime.now(UTC))
    async with running_app(make_settings(redis_server.url), POLICY, clock) as web_app:
        old = [await file_request(web_app, "db.query") for _ in range(2)]
        keep = await file_request(web_app, "deploy.app")
        csrf = await sign_in(web_app, GRACE)
        page = await (await web_app.client.get("/?action=db.query")).text()
        upto = re.search(r'name="upto" id="upto" value="(\d+)"', page).group(1)
        clock.advance(timedelta(seconds=1))
        late = await file_request(web_app, "db.query", args={"late": True})
        form = {"csrf": csrf, "outcome": "reject", "scope": "all", "action": "db.query", "upto": upto}
        no_reason = await web_app.client.post("/batch", data=form)  # the level requires a reason: skipped
        text = await no_reason.text()
        assert "Rejected 0; skipped 2." in text and "a reason is required to reject" in text
        response = await web_app.client.post("/batch", data={**form, "comment": "not today"})
        assert "Rejected 2." in await response.text()
        assert [await status_of(web_app, a["id"]) for a in old] == ["rejected", "rejected"]
        # Outside the filter, or filed after the page was drawn: untouched.
        assert await status_of(web_app, keep["id"]) == "pending"
        assert await status_of(web_app, late["id"]) == "pending"
        no_mark = await web_app.client.post("/batch", data={**form, "upto": "", "comment": "x"})
        assert no_mark.status == 400


async def test_empty_batch_and_bad_outcome_are_refused(web_app):
    csrf = await sign_in(web_app, ADA)
    empty = await web_app.client.post("/batch", data={"csrf": csrf, "outcome": "approve"})
    assert empty.status == 400 and "select at least one" in await empty.text()
    odd = await web_app.client.post("/batch", data={"csrf": csrf, "outcome": "maybe", "id": "apr_x"})
    assert odd.status == 400
    bad_id = await web_app.client.post("/batch", data={"csrf": csrf, "outcome": "approve", "id": "a b"})
    assert bad_id.status == 400


async def test_request_page_shows_everything_and_modify_checks_the_schema(web_app):
    schema = {
        "type": "object",
        "required": ["amount"],
        "additionalProperties": False,
        "properties": {"amount": {"type": "number", "maximum": 100}, "note": {"type": "string"}},
    }
    approval = await file_request(
        web_app,
        "payments.refund",
        args={"amount": 80},
        args_schema=schema,
        context={"why": "customer complaint", "ticket": {"id": 42}},
    )
    csrf = await sign_in(web_app, GRACE)
    page = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    for text in (
        "customer complaint",
        "&#34;amount&#34;: 80",
        "0 of 1 needed",
        "created",
        "action: payments.refund",
        'id="args-schema"',
        "&#34;id&#34;: 42",
    ):
        assert text in page, text
    url = f"/requests/{approval['id']}/decide"
    broken = await web_app.client.post(url, data={"csrf": csrf, "outcome": "modify", "args": "{amount: 5"})
    assert broken.status == 400 and "not valid JSON" in await broken.text()
    too_big = await web_app.client.post(
        url, data={"csrf": csrf, "outcome": "modify", "args": json.dumps({"amount": 500})}
    )
    assert too_big.status == 400 and "args.amount" in await too_big.text()
    not_object = await web_app.client.post(url, data={"csrf": csrf, "outcome": "modify", "args": "[1]"})
    assert not_object.status == 400
    assert await status_of(web_app, approval["id"]) == "pending"
    ok = await web_app.client.post(
        url, data={"csrf": csrf, "outcome": "modify", "comment": "half", "args": json.dumps({"amount": 40})}
    )
    assert ok.status == 200  # followed the redirect back to the request page
    html = await ok.text()
    assert 'id="diff"' in html and "<del>500</del>" not in html and "<ins>40</ins>" in html
    assert 'id="confirmation"' in html
    body = await (await web_app.client.get(f"/v1/approvals/{approval['id']}", headers=auth())).json()
    assert body["status"] == "approved" and body["decision"]["args"] == {"amount": 40}
    assert body["decision"]["outcome"] == "modify"


async def test_reject_needs_a_reason_and_non_approvers_are_told_why(web_app):
    approval = await file_request(web_app, "payments.refund")
    csrf = await sign_in(web_app, BOB)
    page = await (await web_app.client.get(f"/requests/{approval['id']}")).text()
    assert "You cannot decide this request" in page
    refused = await web_app.client.post(
        f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "reject", "comment": "no"}
    )
    assert refused.status == 403 and "high-risk approvers" in await refused.text()
    events = await (
        await web_app.client.get(f"/v1/approvals/{approval['id']}/events", headers=auth(APPROVER_KEY))
    ).json()
    assert events[-1]["type"] == "refused" and events[-1]["actor"]["id"] == BOB
    web_app.client.session.cookie_jar.clear()
    csrf = await sign_in(web_app, GRACE)
    bare = await web_app.client.post(f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "reject"})
    assert bare.status == 400 and "reason is required" in await bare.text()
    done = await web_app.client.post(
        f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "reject", "comment": "wrong customer"}
    )
    assert done.status == 200 and "wrong customer" in await done.text()
    assert await status_of(web_app, approval["id"]) == "rejected"
    late = await web_app.client.post(f"/requests/{approval['id']}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert late.status == 409


async def test_quorum_needs_two_people(web_app):
    drop = await file_request(web_app, "db.drop_table")
    csrf = await sign_in(web_app, ADA)
    first = await web_app.client.post(
        "/batch", data={"csrf": csrf, "outcome": "approve", "id": drop["id"], "confirmed": "1", "comment": "planned"}
    )
    assert "1 vote(s) recorded" in await first.text()
    page = await (await web_app.client.get(f"/requests/{drop['id']}")).text()
    assert "1 of 2 needed" in page and "You have voted" in page
    web_app.client.session.cookie_jar.clear()
    csrf = await sign_in(web_app, GRACE)
    await web_app.client.post(f"/requests/{drop['id']}/decide", data={"csrf": csrf, "outcome": "approve"})
    assert await status_of(web_app, drop["id"]) == "approved"


async def test_history_export_and_stats(web_app):
    approvals = [await file_request(web_app, "db.query") for _ in range(3)]
    await file_request(web_app, "cache.warm")
    csrf = await sign_in(web_app, ADA)
    await web_app.client.post(
        "/batch", data=[("csrf", csrf), ("outcome", "approve")] + [("id", a["id"]) for a in approvals[:2]]
    )
    await web_app.client.post(
        f"/requests/{approvals[2]['id']}/decide", data={"csrf": csrf, "outcome": "reject", "comment": "no"}
    )
    history = await (await web_app.client.get("/history")).text()
    assert set(row_ids(history)) >= {a["id"] for a in approvals}
    rejected = await (await web_app.client.get("/history?status=rejected")).text()
    assert row_ids(rejected) == [approvals[2]["id"]]
    today = approvals[0]["created_at"][:10]
    export = await web_app.client.get(f"/history/export?format=csv&since={today}&until={today}")
    assert export.status == 200
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    decisions = [r for r in rows if r["type"] == "decision" and r["actor_channel"] == "web"]
    assert {r["approval_id"] for r in decisions} == {a["id"] for a in approvals}
    jsonl = await (await web_app.client.get(f"/history/export?format=jsonl&since={today}")).text()
    assert all(json.loads(line)["hash"] for line in jsonl.splitlines())
    empty = await web_app.client.get("/history/export?format=csv&since=2001-01-01&until=2001-01-02")
    assert (await empty.text()).count("\n") == 1  # the header only
    stats = await (await web_app.client.get("/stats")).text()
    assert re.search(r'id="created">4<', stats)
    assert re.search(r'id="auto-share">1 \(25%\)<', stats)
    assert "2 of 2 human approvals (100%) came within 10 s" in stats  # the fatigue signal
    assert ADA in stats


async def test_broken_forms_get_a_clear_page_never_a_500(web_app):
    approval = await file_request(web_app)
    csrf = await sign_in(web_app, ADA)
    url = f"/requests/{approval['id']}/decide"
    cases = [
        ({"data": b"--zz\r\nnot a header", "headers": {"Content-Type": "multipart/form-data; boundary=zz"}}, 400),
        ({"data": {"csrf": csrf, "outcome": "modify", "args": '{"a": "\\ud800"}'}}, 400),
        ({"data": {"csrf": csrf, "outcome": "modify", "args": "[" * 5000 + "]" * 5000}}, 400),
        ({"data": {"csrf": csrf, "outcome": "modify", "args": "x" * 400_000}}, 413),
        ({"data": {"csrf": csrf, "outcome": "approve", "comment": "y" * 5000}}, 400),
    ]
    for kwargs, status in cases:
        response = await web_app.client.post(url, **kwargs)
        assert response.status == status, (kwargs, await response.text())
        assert response.content_type == "text/html"
    assert await status_of(web_app, approval["id"]) == "pending"
