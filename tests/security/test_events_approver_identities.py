"""Attack: an agent reads its own request's history and learns its approvers' phone numbers, email
addresses and Slack IDs (to phish them, or to know whom to impersonate). Every agent-facing read now
shows approvers by channel and name only; approver keys keep the full record."""

from __future__ import annotations

import json
import re

from tests.escalation import conftest as escalation
from tests.escalation.conftest import ALICE_EMAIL, ALICE_PHONE, PUBLIC_URL, OutboxProbe, submit
from tests.support.http_recorder import HttpRecorder
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import AGENT_KEY, APPROVER_KEY, RunningApp, auth
from tests.support.twilio_emulator import TwilioEmulator

SLACK_ID = re.compile(r'"[CUWGD][A-Z0-9]{6,}"')

# The escalation fixtures: a Twilio emulator, an SMTP server, an HTTP recorder and an app using them.
esc_app, esc_settings, recorder = escalation.esc_app, escalation.esc_settings, escalation.recorder
smtp, twilio = escalation.smtp, escalation.twilio


async def test_agent_cannot_read_approver_phone_email_or_slack_ids(
    esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator, recorder: HttpRecorder
) -> None:
    running, probe = esc_app
    settings = running.runtime.settings
    approval = await submit(running, probe, callback_url=recorder.url + "/hooks/countersign")
    approval_id = approval["id"]
    # Every escalation step: Slack "#ops", then email to Alice, then an SMS to Alice.
    make_due(settings, *[job for job, _ in scheduled(settings) if f"esc-{approval_id}-" in job])
    await run_burst(settings)
    sms = (await twilio.wait_for_accepted(1))[0]
    code = re.search(r"Reply YES (\w+) or NO", sms.body).group(1)  # type: ignore[union-attr]
    # Alice approves by SMS from her phone.
    status, _reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"YES {code}")
    assert status == 200
    await probe.wait("decided", approval_id)
    await run_burst(settings)  # the callback

    events = await (await running.client.get(f"/v1/approvals/{approval_id}/events", headers=auth(AGENT_KEY))).text()
    read = await (await running.client.get(f"/v1/approvals/{approval_id}", headers=auth(AGENT_KEY))).text()
    listed = await (await running.client.get("/v1/approvals", headers=auth(AGENT_KEY))).text()
    (callback,) = recorder.to("/hooks/countersign")
    digits = ALICE_PHONE.lstrip("+")
    for seen in (events, read, listed, callback.body.decode()):
        assert digits not in seen and ALICE_EMAIL not in seen and not SLACK_ID.search(seen), seen
    decision = json.loads(read)["decision"]
    assert decision["by"]["channel"] == "sms" and decision["outcome"] == "approve"
    types = {e["type"] for e in json.loads(events)}
    assert {"created", "notified", "decision", "callback"} <= types  # the history is there, scrubbed
    # An approver key (trusted) still sees who it was.
    full = await (await running.client.get(f"/v1/approvals/{approval_id}/events", headers=auth(APPROVER_KEY))).text()
    assert digits in full and ALICE_EMAIL in full
