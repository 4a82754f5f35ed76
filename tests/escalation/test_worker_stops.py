"""A real `countersign worker` that gets SIGTERM in the middle of a job finishes that job, then exits."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from jobs.scheduling import step_job_id
from tests.escalation.conftest import ALICE_PHONE, OutboxProbe, submit
from tests.escalation.test_worker_process import worker_env
from tests.support.rq_worker import make_due
from tests.support.servers import RunningApp
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_emulator import TwilioEmulator


async def test_worker_finishes_its_current_job_on_sigterm_then_exits(
    esc_app: tuple[RunningApp, OutboxProbe], smtp: SmtpServer, twilio: TwilioEmulator
) -> None:
    running, probe = esc_app
    approval = await submit(running, probe, action="restart_service")  # critical: email, then SMS
    make_due(running.runtime.settings, step_job_id(running.runtime.keys, approval["id"], 0, 0))
    twilio.hold = True  # the SMS request waits: the worker is mid-job when it is asked to stop
    command = [str(Path(sys.executable).parent / "countersign"), "worker"]
    worker = subprocess.Popen(  # noqa: ASYNC220
        command,
        env=worker_env(running),
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await twilio.wait_for_attempts(1, seconds=30)
        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert worker.poll() is None, "the worker left its job unfinished"
        twilio.released.set()
        assert [sms.to for sms in await twilio.wait_for_accepted(1)] == [ALICE_PHONE]
        assert await asyncio.to_thread(worker.wait, 5) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    notified = [
        e.detail["channel"] for e in await running.runtime.service.events(approval["id"]) if e.type == "notified"
    ]
    assert sorted(notified) == ["email", "sms"]
