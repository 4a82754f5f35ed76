"""§7: one agent cannot drown the others or the server. COUNTERSIGN_AGENT_RATE and
COUNTERSIGN_AGENT_MAX_PENDING answer 429 with Retry-After, per agent key, on every route that files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.errors import ConfigError
from bot.limits import Rate
from tests.support.servers import AGENT_KEY, OTHER_AGENT_KEY, RunningApp, auth, make_settings, running_app


@pytest.fixture
async def limited(redis_server: Any, request: pytest.FixtureRequest) -> AsyncIterator[RunningApp]:
    rate, max_pending = request.param
    settings = make_settings(redis_server.url, countersign_agent_rate=rate, countersign_agent_max_pending=max_pending)
    # A frozen clock 10 s into a minute: the fixed rate window cannot roll over during a test.
    async with running_app(settings, clock=FrozenClock(datetime(2026, 3, 1, 9, 0, 10, tzinfo=UTC))) as running:
        yield running


def filing(app: RunningApp, n: int, key: str = AGENT_KEY) -> list[Any]:
    """One request on each filing route, in turn."""
    routes = [
        ("/v1/approvals", {"action": "deploy", "args": {"n": n}}),
        ("/v1/questions", {"question": f"question {n}?"}),
        (
            "/humanlayer/v1/function_calls",
            {"run_id": "r", "call_id": f"call-{key[:6]}-{n}", "spec": {"fn": "deploy", "kwargs": {"n": n}}},
        ),
        (
            "/humanlayer/v1/contact_requests",
            {"run_id": "r", "call_id": f"contact-{key[:6]}-{n}", "spec": {"msg": f"question {n}?"}},
        ),
    ]
    path, body = routes[n % len(routes)]
    return [path, app.client.post(path, json=body, headers=auth(key))]


@pytest.mark.parametrize("limited", [("4/m", 0)], indirect=True)
async def test_an_agent_flooding_requests_gets_429_with_retry_after(limited):
    for n in range(4):
        path, call = filing(limited, n)
        response = await call
        assert response.status in (200, 201), (path, await response.text())
    for n in range(4, 8):  # every filing route is limited, from the same counter
        path, call = filing(limited, n)
        response = await call
        assert response.status == 429, path
        assert int(response.headers["Retry-After"]) == 51  # the window ends at 09:01:00
        error = (await response.json())["error"]
        assert error["code"] == "rate_limited" and error["fields"] == {"limit": "COUNTERSIGN_AGENT_RATE"}
    other = await limited.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth(OTHER_AGENT_KEY))
    assert other.status == 201  # the other agent's budget is its own
    limited.runtime.clock.advance(timedelta(seconds=50))  # type: ignore[attr-defined]
    assert (await filing(limited, 8)[1]).status == 201  # a new window


@pytest.mark.parametrize("limited", [("0", 5)], indirect=True)
async def test_concurrent_flood_cannot_exceed_the_pending_cap(limited):
    calls = [
        limited.client.post("/v1/approvals", json={"action": "deploy", "args": {"n": n}}, headers=auth())
        for n in range(30)
    ]
    responses = await asyncio.gather(*calls)
    statuses = sorted(r.status for r in responses)
    assert statuses.count(201) == 5 and statuses.count(429) == 25, statuses
    refused = next(r for r in responses if r.status == 429)
    assert refused.headers["Retry-After"].isdigit()
    assert (await refused.json())["error"]["fields"] == {"limit": "COUNTERSIGN_AGENT_MAX_PENDING"}
    # Questions and HumanLayer calls count too; the other agent does not.
    for path, call in (filing(limited, 1), filing(limited, 2)):
        assert (await call).status == 429, path
    assert (
        await limited.client.post("/v1/approvals", json={"action": "x"}, headers=auth(OTHER_AGENT_KEY))
    ).status == 201
    # Once one is decided, the agent may file again.
    created = next(r for r in responses if r.status == 201)
    cancelled = await limited.client.post(f"/v1/approvals/{(await created.json())['id']}/cancel", headers=auth())
    assert cancelled.status == 200
    again = await limited.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth())
    assert again.status == 201
    assert (await limited.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth())).status == 429


@pytest.mark.parametrize("limited", [("0", 1)], indirect=True)
async def test_an_idempotent_retry_at_the_cap_returns_the_existing_request(limited):
    body = {"action": "deploy", "idempotency_key": "k-1"}
    first = await limited.client.post("/v1/approvals", json=body, headers=auth())
    retry = await limited.client.post("/v1/approvals", json=body, headers=auth())
    assert (first.status, retry.status) == (201, 200)
    assert (await first.json())["id"] == (await retry.json())["id"]


@pytest.mark.parametrize(
    ("text", "count", "window"),
    [("120/m", 120, 60), ("10/s", 10, 1), ("1000/h", 1000, 3600), ("30/10s", 30, 10), ("0", 0, 1)],
)
def test_rate_setting_forms(text, count, window):
    assert Rate.parse(text) == Rate(count, window)


@pytest.mark.parametrize("bad", ["fast", "120", "-1/m", "120/d", "1/0x", "5/0s"])
def test_bad_rate_setting_stops_at_load(redis_server, bad):
    with pytest.raises(ConfigError, match="COUNTERSIGN_AGENT_RATE"):
        make_settings(redis_server.url, countersign_agent_rate=bad)


def test_limits_are_on_by_default(redis_server):
    settings = make_settings(redis_server.url)
    defaults = type(settings)(_env_file=None)  # type: ignore[call-arg]
    assert defaults.agent_limits.rate == Rate(120, 60) and defaults.agent_limits.max_pending == 500


@pytest.mark.parametrize("limited", [("3/m", 0)], indirect=True)
async def test_escalation_notes_count_against_the_agent_rate(limited):
    # Each HumanLayer escalate_email stores agent text in the audit trail: it is an agent write like filing.
    body = {"run_id": "r", "call_id": "esc-1", "spec": {"fn": "deploy", "kwargs": {}}}
    assert (await limited.client.post("/humanlayer/v1/function_calls", json=body, headers=auth())).status == 200
    path = "/humanlayer/v1/agent/function_calls/esc-1/escalate_email"
    note = {"escalation_msg": "x" * 1000}
    statuses = [(await limited.client.post(path, json=note, headers=auth())).status for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    runtime = limited.runtime
    entries = await runtime.redis.xrange(runtime.keys.audit)
    notes = [e for _, e in entries if "humanlayer_escalation" in e.get("body", "")]
    assert len(notes) == 2  # the refused ones stored nothing
