"""Attacks on callback delivery: an address allowed at intake but not at delivery, DNS rebinding between
the check and the connection, redirects into our network, and reading the target's answers back from
/v1/approvals/{id}/events (a port scanner)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from aiohttp import web

from bot.channels.callbacks.outbound import DestinationRefused, checked_session
from bot.netpolicy import CallbackAllow, check_callback_url
from tests.escalation import conftest as escalation
from tests.escalation.conftest import OutboxProbe, submit
from tests.support.http_recorder import HttpRecorder
from tests.support.loopback import start_on_loopback
from tests.support.rq_worker import run_burst
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth

SAFE_CALLBACK_DETAIL = {"attempt", "result", "url", "next_attempt_in_s"}

# The escalation fixtures: a Twilio emulator, an SMTP server, an HTTP recorder and an app using them.
esc_app, esc_settings, recorder = escalation.esc_app, escalation.esc_settings, escalation.recorder
smtp, twilio = escalation.smtp, escalation.twilio


async def _decide(running: RunningApp, probe: OutboxProbe, approval_id: str) -> None:
    response = await running.client.post(
        f"/v1/approvals/{approval_id}/decision", headers=auth(APPROVER_KEY), json={"outcome": "reject", "comment": "no"}
    )
    assert response.status == 200
    await probe.wait("decided", approval_id)


async def _callback_events(running: RunningApp, approval_id: str, key: str) -> list[dict[str, Any]]:
    response = await running.client.get(f"/v1/approvals/{approval_id}/events", headers=auth(key))
    assert response.status == 200
    return [e for e in await response.json() if e["type"] == "callback"]


async def test_callback_allowed_at_intake_is_not_sent_once_the_operator_no_longer_allows_it(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe, callback_url=recorder.url + "/hooks/countersign")
    await _decide(running, probe, approval["id"])
    stricter = running.runtime.settings.model_copy(update={"countersign_callback_allow": ""})
    await run_burst(stricter)  # the worker's own check, on the address it would dial
    (attempt,) = await _callback_events(running, approval["id"], APPROVER_KEY)
    assert attempt["detail"]["result"] == "retrying" and "not an allowed" in attempt["detail"]["error"]
    assert recorder.to("/hooks") == []


async def test_dns_rebinding_after_the_intake_check_is_refused_at_connect(recorder: HttpRecorder) -> None:
    """The name answers with a public address at intake and with loopback when the worker connects."""
    answers = [[ip_address("93.184.215.14")], [ip_address("127.0.0.1")]]

    async def rebinding(host: str, port: int) -> list:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    port = int(recorder.url.rsplit(":", 1)[1])
    url = f"http://rebind.test:{port}/hooks/countersign"
    await check_callback_url(url, CallbackAllow(), resolve=rebinding)  # intake: public, accepted
    async with checked_session(CallbackAllow(), resolve=rebinding) as session:
        try:
            async with session.post(url, data=b"{}", allow_redirects=False):
                raise AssertionError("connected to a rebound address")
        except OSError as exc:  # aiohttp's ClientConnectorDNSError, around the resolver's refusal
            assert isinstance(exc.os_error, DestinationRefused)
    assert recorder.requests == []
    # The connection goes to the address that was checked: allowed, the same name reaches the receiver.
    async with (
        checked_session(CallbackAllow.parse("127.0.0.1"), resolve=rebinding) as session,
        session.post(url, data=b"{}", allow_redirects=False) as response,
    ):
        assert response.status == 200
    assert [r.path for r in recorder.requests] == ["/hooks/countersign"]


async def test_callback_redirect_into_the_network_is_not_followed(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    running, probe = esc_app

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(recorder.url + "/stolen")

    redirector = web.Application()
    redirector.router.add_post("/hook", redirect)
    runner, base = await start_on_loopback(redirector)
    try:
        approval = await submit(running, probe, callback_url=base + "/hook")
        await _decide(running, probe, approval["id"])
        await run_burst(running.runtime.settings)
    finally:
        await runner.cleanup()
    assert recorder.to("/stolen") == []
    (attempt,) = await _callback_events(running, approval["id"], AGENT_KEY)
    assert attempt["detail"]["result"] == "failed"


async def test_agent_cannot_read_status_or_connection_errors_of_its_callback_target(
    esc_app: tuple[RunningApp, OutboxProbe], recorder: HttpRecorder
) -> None:
    """Port scanning through callbacks: closed port, 404 and 500 all read as 'failed', and nothing else."""
    running, probe = esc_app
    recorder.statuses = [404, 500]
    targets = ["http://127.0.0.1:9/closed", recorder.url + "/missing", recorder.url + "/broken", recorder.url + "/ok"]
    ids = []
    for target in targets:
        approval = await submit(running, probe, callback_url=target)
        await _decide(running, probe, approval["id"])
        ids.append(approval["id"])
    await run_burst(running.runtime.settings)
    seen = []
    for approval_id in ids:
        (attempt,) = await _callback_events(running, approval_id, AGENT_KEY)
        assert set(attempt["detail"]) <= SAFE_CALLBACK_DETAIL, attempt
        seen.append((attempt["detail"]["result"], attempt["detail"].get("next_attempt_in_s")))
    assert seen == [("failed", 30)] * 3 + [("delivered", None)]
    # The operator (an approver key) still sees why.
    (closed,) = await _callback_events(running, ids[0], APPROVER_KEY)
    assert closed["detail"]["error"] and closed["detail"]["result"] == "retrying"
    (missing,) = await _callback_events(running, ids[1], APPROVER_KEY)
    assert missing["detail"]["http_status"] == 404
