"""Attack: an agent points callback_url at our own network (loopback, private, metadata…) in any spelling.

Before: every one of these was filed (201) and the worker POSTed the signed approval there. Now intake
answers 400 naming callback_url, before anything is stored."""

from __future__ import annotations

import pytest

from tests.support.servers import AGENT_KEY, RunningApp, auth, make_settings, running_app

# Each refused with COUNTERSIGN_CALLBACK_ALLOW empty (the default).
INTERNAL_SPELLINGS = [
    "http://127.0.0.1/hook",
    "https://127.0.0.1:8443/hook",
    "http://127.0.0.1:9/hook",
    "http://localhost/hook",
    "http://localhost./hook",
    "http://LOCALHOST/hook",
    "http://LocalHost.:80/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://0.0.0.0/hook",
    "http://0/hook",
    "http://2130706433/hook",  # decimal
    "http://0x7f000001/hook",
    "http://0x7f.0.0.1/hook",
    "http://0X7F.1/hook",  # hex
    "http://0177.0.0.1/hook",
    "http://017700000001/hook",  # octal
    "http://127.1/hook",
    "http://127.0.1/hook",
    "http://127.000.000.001/hook",  # short and padded forms
    "http://[::ffff:127.0.0.1]/hook",
    "http://[0:0:0:0:0:ffff:7f00:1]/hook",
    "http://[::FFFF:7F00:1]/hook",
    "http://[::127.0.0.1]/hook",  # IPv4-compatible IPv6
    "http://[64:ff9b::7f00:1]/hook",
    "http://[64:ff9b::a00:1]/hook",  # NAT64 of loopback, of 10.0.0.1
    "http://[2002:7f00:1::]/hook",
    "http://[2002:c0a8:101::1]/hook",  # 6to4 of loopback, of 192.168.1.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
    "http://public.example.com@127.0.0.1/hook",
    "http://127.0.0.1%2f@example.com/hook",  # userinfo tricks
    "http://user:password@example.com/hook",
    "http://%31%32%37.0.0.1/hook",
    "http://%6c%6f%63%61%6c%68%6f%73%74/hook",  # percent-encoded hosts
    "http://10.0.0.1/hook",
    "http://10.255.255.255/hook",
    "http://172.16.0.1/hook",
    "http://172.31.9.9/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://100.127.255.254/hook",  # RFC 1918, CGNAT
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://[fe80::1%25eth0]/hook",
    "http://[fc00::1]/hook",
    "http://[fd12:3456::1]/hook",
    "http://[fec0::1]/hook",
    "http://224.0.0.1/hook",
    "http://239.255.255.250/hook",
    "http://[ff02::1]/hook",
    "http://[ff0e::1]/hook",
    "http://255.255.255.255/hook",
    "http://240.0.0.1/hook",
    "http://198.18.0.1/hook",
    "http://192.0.0.170/hook",
    "http://192.0.2.1/hook",
    "http://[2001:db8::1]/hook",
    "http://08.0.0.1/hook",
    "http://1.2.3.4.5/hook",
    "http://4294967296/hook",  # numeric, but no address
    "http://ⓛocalhost/hook",  # IDNA maps it to localhost
    "http://no-such-host.invalid/hook",  # does not resolve: not checkable, so not allowed
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "HTTP://127.0.0.1/hook",
    "javascript:alert(1)",
    "http:///hook",
    "http://exa mple.com/hook",
]


async def _file(running: RunningApp, callback_url: str) -> tuple[int, dict]:
    response = await running.client.post(
        "/v1/approvals", headers=auth(AGENT_KEY), json={"action": "deploy", "callback_url": callback_url}
    )
    return response.status, await response.json()


@pytest.mark.parametrize("callback_url", INTERNAL_SPELLINGS)
async def test_callback_url_to_an_internal_address_is_refused_at_intake(app: RunningApp, callback_url: str) -> None:
    status, body = await _file(app, callback_url)
    assert status == 400, body
    assert set(body["error"]["fields"]) == {"callback_url"}
    listed = await (await app.client.get("/v1/approvals", headers=auth(AGENT_KEY))).json()
    assert listed["items"] == []  # nothing half-filed


async def test_refusal_text_is_the_same_for_unresolvable_and_internal_names(app: RunningApp) -> None:
    """No internal-DNS oracle: 'does not resolve' and 'resolves to loopback' read alike."""
    _, loopback = await _file(app, "http://localhost/hook")
    _, missing = await _file(app, "http://no-such-host.invalid/hook")
    _, literal = await _file(app, "http://10.0.0.1/hook")
    assert loopback["error"] == missing["error"] == literal["error"]


async def test_operator_allowed_ranges_and_names_are_accepted(redis_server) -> None:
    settings = make_settings(redis_server.url, countersign_callback_allow="10.0.0.0/8, *.hooks.internal ,127.0.0.1")
    async with running_app(settings) as running:
        for allowed in (
            "http://10.1.2.3:8080/hook",
            "https://ci.hooks.internal/hook",
            "http://127.0.0.1:9/x",
            "http://[::ffff:10.0.0.7]/hook",
            "http://0x0a.1/hook",
        ):
            status, body = await _file(running, allowed)
            assert status == 201, (allowed, body)
        for still_refused in (
            "http://127.0.0.2/hook",
            "http://[::1]/hook",
            "http://192.168.1.1/hook",
            "http://127.1.0.1/",
            "http://hooks.internal/hook",
        ):
            status, body = await _file(running, still_refused)
            assert status == 400 and "callback_url" in body["error"]["fields"], still_refused


def test_a_bad_allow_entry_stops_start_up() -> None:
    from bot.errors import ConfigError
    from bot.settings import load_settings

    with pytest.raises(ConfigError, match="COUNTERSIGN_CALLBACK_ALLOW"):
        load_settings(countersign_callback_allow="10.0.0.0/33", _env_file=None)
