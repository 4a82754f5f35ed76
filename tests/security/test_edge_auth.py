"""Guessing keys: failed bearer authentication is limited per client address, on every keyed surface;
`/metrics` needs its token when one is set."""

from __future__ import annotations

from bot.embedded import EmbeddedRedis
from tests.support.servers import AGENT_KEY, make_settings, running_app


async def test_edge_api_auth_bruteforce_rate_limited(redis_server: EmbeddedRedis) -> None:
    settings = make_settings(redis_server.url, countersign_auth_failures_per_minute=5)
    async with running_app(settings) as running:
        for guess in range(5):
            wrong = {"Authorization": f"Bearer guess-{guess:04d}-0123456789abcdef"}
            response = await running.client.get("/v1/approvals", headers=wrong)
            assert response.status == 401
        # Over the limit: refused before the key is looked at, so even the right key is refused now —
        # otherwise a correct guess would stand out among the 429s.
        for headers in (
            {"Authorization": "Bearer guess-9999-0123456789abcdef"},
            {"Authorization": f"Bearer {AGENT_KEY}"},
        ):
            response = await running.client.get("/v1/approvals", headers=headers)
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert (await response.json())["error"]["code"] == "rate_limited"
        # The HumanLayer-compatible surface shares the count: no second door to guess at.
        response = await running.client.post(
            "/humanlayer/v1/function_calls", json={}, headers={"Authorization": f"Bearer {AGENT_KEY}"}
        )
        assert response.status == 429


async def test_edge_humanlayer_auth_bruteforce_rate_limited(redis_server: EmbeddedRedis) -> None:
    settings = make_settings(redis_server.url, countersign_auth_failures_per_minute=3)
    async with running_app(settings) as running:
        for guess in range(3):
            response = await running.client.get(
                f"/humanlayer/v1/function_calls/call-{guess}",
                headers={"Authorization": f"Bearer nope-{guess}-0123456789abc"},
            )
            assert response.status == 401
        response = await running.client.get("/v1/approvals", headers={"Authorization": f"Bearer {AGENT_KEY}"})
        assert response.status == 429


async def test_edge_auth_limit_ignores_spoofed_forwarded_for(redis_server: EmbeddedRedis) -> None:
    # No trusted proxy is set: X-Forwarded-For is the client's own claim and must not reset its count.
    settings = make_settings(redis_server.url, countersign_auth_failures_per_minute=2)
    async with running_app(settings) as running:
        for guess in range(4):
            headers = {"Authorization": f"Bearer nope-{guess}-0123456789abc", "X-Forwarded-For": f"203.0.113.{guess}"}
            response = await running.client.get("/v1/approvals", headers=headers)
        assert response.status == 429


async def test_edge_auth_limit_behind_a_trusted_proxy_counts_each_client(redis_server: EmbeddedRedis) -> None:
    settings = make_settings(
        redis_server.url, countersign_auth_failures_per_minute=2, countersign_trusted_proxies="127.0.0.0/8"
    )
    async with running_app(settings) as running:
        for guess in range(2):
            headers = {
                "Authorization": f"Bearer nope-{guess}-0123456789abc",
                "X-Forwarded-For": "198.51.100.7, 203.0.113.9",
            }
            assert (await running.client.get("/v1/approvals", headers=headers)).status == 401
        # The proxy's rightmost untrusted hop is the client: 203.0.113.9 is now refused, a neighbour is not.
        refused = await running.client.get(
            "/v1/approvals",
            headers={"Authorization": f"Bearer {AGENT_KEY}", "X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
        )
        assert refused.status == 429
        other = await running.client.get(
            "/v1/approvals", headers={"Authorization": f"Bearer {AGENT_KEY}", "X-Forwarded-For": "203.0.113.10"}
        )
        assert other.status == 200


async def test_edge_metrics_requires_token(redis_server: EmbeddedRedis) -> None:
    token = "metrics-token-0123456789abcdef"
    async with running_app(make_settings(redis_server.url, countersign_metrics_token=token)) as running:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {token}"},
            {"Authorization": f"Bearer {token}x"},
        ):
            response = await running.client.get("/metrics", headers=headers)
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthenticated"
            assert "countersign_" not in await response.text()
        response = await running.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200 and "countersign_pending_requests" in await response.text()
    # Unset: open as before (documented; operators are told to set it).
    async with running_app(make_settings(redis_server.url)) as running:
        assert (await running.client.get("/metrics")).status == 200
