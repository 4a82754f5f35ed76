"""Email links end to end: a real SMTP server receives the mail; the links go through the confirm page."""

from __future__ import annotations

import asyncio
import re

from bot.models import Status
from tests.escalation.conftest import ALICE_EMAIL, OutboxProbe, all_audit, audit_types, submit
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import RunningApp
from tests.support.smtp_server import SmtpServer

LINK = re.compile(r"https://countersign\.example\.com(/email/[A-Za-z0-9_.\-]+)")


async def _mail_links(running: RunningApp, probe: OutboxProbe, smtp: SmtpServer) -> tuple[str, str, str]:
    approval = await submit(running, probe)
    step = next(j for j, _ in scheduled(running.runtime.settings) if f"esc-{approval['id']}-1-0" in j)
    make_due(running.runtime.settings, step)
    await run_burst(running.runtime.settings)
    mail = (await asyncio.to_thread(smtp.wait_for, 1))[0]
    approve, reject = LINK.findall(mail.part("plain"))
    assert LINK.findall(mail.part("html")) == [approve, reject]
    return approval["id"], approve, reject


async def test_link_approves_only_through_the_confirm_page(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer
) -> None:
    running, probe = esc_app
    approval_id, approve, _reject = await _mail_links(running, probe, smtp)
    # A mail scanner following the link gets a page and decides nothing, however often it looks.
    for _ in range(2):
        page = await running.client.get(approve)
        assert page.status == 200
        html = await page.text()
        assert '<form method="post"' in html and "delete_user_data" in html and ALICE_EMAIL in html
        assert page.headers["Cache-Control"] == "no-store"
    assert (await running.runtime.service.get(approval_id)).status == Status.pending

    done = await running.client.post(approve, data={"comment": "ok from my phone"})
    assert done.status == 200 and "approved" in await done.text()
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.approved
    assert approval.decision is not None and approval.decision.by.channel == "email"
    assert approval.decision.by.id == ALICE_EMAIL and approval.decision.comment == "ok from my phone"

    again = await running.client.post(approve)
    assert again.status == 410 and "already been used" in await again.text()
    looked = await running.client.get(approve)
    assert looked.status == 410
    refusals = [e for e in await running.runtime.service.events(approval_id) if e.type == "link_refused"]
    assert [(e.detail["reason"], e.detail["method"]) for e in refusals] == [("used", "POST"), ("used", "GET")]


async def test_reject_link_after_approval_changes_nothing(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer
) -> None:
    running, probe = esc_app
    approval_id, approve, reject = await _mail_links(running, probe, smtp)
    assert (await running.client.post(approve)).status == 200
    late = await running.client.post(reject, data={"comment": "no"})
    assert late.status == 409 and "already approved" in await late.text()
    assert (await running.runtime.service.get(approval_id)).status == Status.approved


async def test_forged_and_tampered_tokens_are_refused(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer
) -> None:
    running, probe = esc_app
    approval_id, approve, _ = await _mail_links(running, probe, smtp)
    tampered = approve[:-3] + ("AAA" if not approve.endswith("AAA") else "BBB")
    for path in (tampered, "/email/not-a-token"):
        for response in (await running.client.get(path), await running.client.post(path)):
            assert response.status == 400 and "not valid" in await response.text()
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    refused = [e for e in await all_audit(running) if e["type"] == "link_refused"]
    assert [(e["detail"]["reason"], e["detail"]["method"]) for e in refused] == [
        ("forged", "GET"),
        ("forged", "POST"),
    ] * 2
    assert all(e["approval_id"] is None for e in refused)


async def test_smtp_down_then_back_delivers_once(esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer) -> None:
    running, probe = esc_app
    approval = await submit(running, probe)
    approval_id = approval["id"]
    step = next(j for j, _ in scheduled(running.runtime.settings) if f"esc-{approval_id}-1-0" in j)
    smtp.stop()
    make_due(running.runtime.settings, step)
    await run_burst(running.runtime.settings)
    assert "notify_failed" in await audit_types(running, approval_id)
    # RQ scheduled a retry of the step; the server comes back; the retry is made due now.
    assert any(j == step for j, _ in scheduled(running.runtime.settings))
    smtp.start()
    make_due(running.runtime.settings, step)
    await run_burst(running.runtime.settings)
    received = await asyncio.to_thread(smtp.wait_for, 1)
    # Running the step again (as a duplicate retry would) sends nothing more.
    from redis import Redis

    from jobs.worker import queue_for

    redis = Redis.from_url(running.runtime.settings.redis_url or "")
    queue_for(redis, running.runtime.settings).enqueue("jobs.escalation.run_step", approval_id, 1, 0)
    redis.close()
    await run_burst(running.runtime.settings)
    assert len(smtp.received) == 1 and received[0].recipients == [ALICE_EMAIL]
    assert (await audit_types(running, approval_id)).count("notified") == 1


async def test_expired_link_is_refused(esc_app: tuple[RunningApp, OutboxProbe]) -> None:
    from datetime import timedelta

    from bot.channels.common.tokens import GRACE, LinkTokens
    from bot.secrets import signing_key

    running, probe = esc_app
    approval = await submit(running, probe)
    runtime = running.runtime
    tokens = LinkTokens(await signing_key(runtime.settings, runtime.redis, runtime.keys), runtime.redis, runtime.keys)
    long_ago = runtime.clock.now() - GRACE - timedelta(seconds=5)
    stale = f"/email/{tokens.issue(approval['id'], ALICE_EMAIL, 'approve', long_ago)}"
    for response in (await running.client.get(stale), await running.client.post(stale)):
        assert response.status == 410 and "expired" in await response.text()
    assert (await runtime.service.get(approval["id"])).status == Status.pending
    assert (await audit_types(running, approval["id"])).count("link_refused") == 2


def test_smtp_url_forms() -> None:
    import pytest

    from bot.channels.common.smtp import SmtpConfig
    from bot.errors import ConfigError

    plain = SmtpConfig.parse("smtp://mailer:p%40ss@mail.example.com:2525")
    assert (plain.host, plain.port, plain.username, plain.password, plain.tls, plain.starttls) == (
        "mail.example.com",
        2525,
        "mailer",
        "p@ss",
        False,
        False,
    )
    assert SmtpConfig.parse("smtps://mail.example.com").port == 465
    assert SmtpConfig.parse("smtps://mail.example.com").tls
    assert SmtpConfig.parse("smtp://mail.example.com:587?starttls=1").starttls
    for bad in ("http://mail.example.com", "smtp://", "smtp://host:notaport"):
        with pytest.raises(ConfigError, match="SMTP_URL"):
            SmtpConfig.parse(bad)


def test_worker_refuses_a_bad_smtp_url(tmp_path: object) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "COUNTERSIGN_"))}
    env.update({"SMTP_URL": "mailto:someone", "REDIS_URL": "redis://127.0.0.1:1"})
    result = subprocess.run(
        [str(Path(sys.executable).parent / "countersign"), "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("countersign: SMTP_URL:") and "Traceback" not in result.stderr
