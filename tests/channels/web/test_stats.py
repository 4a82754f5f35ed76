"""The stats fold over audit entries (pure), and the live event stream over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from bot.audit import entry
from bot.models import Actor
from bot.stats import compute, percentile
from tests.support.web import ADA, file_request, sign_in

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
AGENT = Actor(channel="api", id="billing-agent")
POLICY_ACTOR = Actor(channel="policy", id="policy")
ADA_WEB = Actor(channel="web", id=ADA, name=ADA)
BOB_SLACK = Actor(channel="slack", id="U0BOB", name="bob")


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([1.0], 0.9) == 1.0
    values = [float(n) for n in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0


def test_stats_fold_time_to_decision_auto_share_and_fast_approvals():
    bodies = []
    for n, (actor, outcome, after_s) in enumerate(
        [
            (ADA_WEB, "approve", 3),
            (ADA_WEB, "approve", 5),
            (ADA_WEB, "reject", 600),
            (BOB_SLACK, "modify", 120),
            (POLICY_ACTOR, "approve", 0),
        ]
    ):
        approval_id = f"apr_{n}"
        bodies.append(entry("created", T0, approval_id, AGENT, action="x").body)
        at = T0 + timedelta(seconds=after_s)
        bodies.append(entry("vote", at, approval_id, actor, outcome=outcome).body)
        bodies.append(entry("decision", T0 + timedelta(seconds=after_s), approval_id, actor, outcome=outcome).body)
    bodies.append(entry("expired", T0, "apr_9", POLICY_ACTOR).body)
    # A decision whose request was filed before the window counts for the approver, not for timing.
    bodies.append(entry("decision", T0, "apr_old", ADA_WEB, outcome="approve").body)
    stats = compute(bodies)
    assert stats.created == 5 and stats.auto_approved == 1 and stats.auto_share == 0.2
    assert stats.human_decisions == 5 and stats.expired == 1
    assert stats.median_s == 5.0 and stats.p90_s == 600.0  # of 3, 5, 120, 600
    assert stats.human_approvals == 3 and stats.fast_approvals == 2
    ada = next(f for f in stats.approvers if f.approver.startswith(ADA))
    assert (ada.decisions, ada.approvals, ada.rejections, ada.fast_approvals) == (4, 3, 1, 2)
    bob = next(f for f in stats.approvers if f.approver.startswith("U0BOB"))
    assert bob.modifications == 1 and bob.median_s == 120.0


async def test_events_stream_pushes_changes(web_app):
    await sign_in(web_app, ADA)
    response = await web_app.client.get("/events")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert await asyncio.wait_for(response.content.readline(), 5) == b"retry: 2000\n"
    await response.content.readline()
    approval = await file_request(web_app)
    assert await asyncio.wait_for(response.content.readline(), 5) == b"event: change\n"
    data = await asyncio.wait_for(response.content.readline(), 5)
    assert json.loads(data.decode().removeprefix("data: ")) == {"id": approval["id"], "status": "pending"}
    response.close()


async def test_history_filters_by_filing_date_and_scan_bound(web_app):
    from bot.search import DECIDED, Search

    approvals = [await file_request(web_app) for _ in range(5)]
    today = approvals[0]["created_at"][:10]
    csrf = await sign_in(web_app, ADA)
    await web_app.client.post(
        "/batch", data=[("csrf", csrf), ("outcome", "approve")] + [("id", a["id"]) for a in approvals]
    )
    page = await (await web_app.client.get(f"/history?since={today}&until={today}")).text()
    assert "5 decided" in page
    page = await (await web_app.client.get("/history?since=2001-01-01&until=2001-01-31")).text()
    assert "0 decided" in page and "Nothing decided" in page
    searcher = web_app.runtime.service.searcher
    rows, matched, truncated = await searcher.rows(Search(status=DECIDED), 50, count=True, max_scan=3)
    assert truncated and matched == 3 and len(rows) == 3
