"""A real `countersign worker` process, SIGKILLed in the middle of a step: the retry completes it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redis import Redis
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler

from jobs.scheduling import step_job_id
from jobs.worker import queue_for
from tests.escalation.conftest import ALICE_EMAIL, ALICE_PHONE, OutboxProbe, submit
from tests.support.rq_worker import make_due, run_burst
from tests.support.servers import RunningApp
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator


def descendants(pid: int) -> list[int]:
    """All processes under `pid` (RQ's work horse runs in a process group of its own)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def worker_env(running: RunningApp) -> dict[str, str]:
    s = running.runtime.settings
    ours = ("SLACK_", "TWILIO_", "SMTP_", "COUNTERSIGN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        {
            "REDIS_URL": s.redis_url or "",
            "COUNTERSIGN_REDIS_PREFIX": s.countersign_redis_prefix,
            "COUNTERSIGN_API_KEYS": s.countersign_api_keys,
            "COUNTERSIGN_PUBLIC_URL": s.countersign_public_url,
            "COUNTERSIGN_SECRET_KEY": s.countersign_secret_key or "",
            "SMTP_URL": s.smtp_url or "",
            "EMAIL_FROM": s.email_from,
            "TWILIO_ACCOUNT_SID": s.twilio_account_sid or "",
            "TWILIO_AUTH_TOKEN": s.twilio_auth_token or "",
            "TWILIO_FROM": s.twilio_from or "",
            "TWILIO_API_URL": s.twilio_api_url,
            "COUNTERSIGN_ESCALATION_BATCH_S": str(s.countersign_escalation_batch_s),
            "COUNTERSIGN_LOG_LEVEL": "INFO",
        }
    )
    return env


async def test_worker_killed_mid_step_sends_each_target_once(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = esc_app
    settings = running.runtime.settings
    approval = await submit(running, probe, action="restart_service")  # critical: email, then SMS
    step = step_job_id(running.runtime.keys, approval["id"], 0, 0)
    make_due(settings, step)
    twilio.hold = True  # the SMS request hangs: the worker is mid-step when it dies

    command = [str(Path(sys.executable).parent / "countersign"), "worker"]
    log = tempfile.NamedTemporaryFile(prefix="cs-worker-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: ASYNC220
        command,
        env=worker_env(running),
        cwd=tempfile.gettempdir(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        await twilio.wait_for_attempts(1, seconds=30)
        # The email went first and was recorded as sent; the SMS is in flight.
        assert [m.recipients for m in smtp.received] == [[ALICE_EMAIL]]
        for pid in [*descendants(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
    assert worker.returncode == -signal.SIGKILL
    assert twilio.accepted == []
    twilio.hold = False

    # RQ notices the abandoned job once its lease runs out: move that moment to now. The dead scheduler's
    # lock would likewise expire within a minute or so.
    redis = Redis.from_url(settings.redis_url or "")
    queue = queue_for(redis, settings)
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 86400)
    redis.delete(RQScheduler.get_locking_key(queue.name))
    redis.close()
    make_due(settings, step)
    await run_burst(settings)

    sms = await twilio.wait_for_accepted(1)
    assert [s.to for s in sms] == [ALICE_PHONE]
    assert len(smtp.received) == 1  # not sent again
    notified = [
        e.detail["channel"] for e in await running.runtime.service.events(approval["id"]) if e.type == "notified"
    ]
    assert sorted(notified) == ["email", "sms"]
    os.unlink(log.name)  # noqa: ASYNC230,PTH108
