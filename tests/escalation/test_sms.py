"""SMS: texts go out through the Twilio emulator; replies come back as webhooks signed as Twilio signs."""

from __future__ import annotations

import re

from bot.models import Status
from tests.escalation.conftest import ALICE_PHONE, PUBLIC_URL, OutboxProbe, all_audit, submit
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import RunningApp
from tests.support.twilio_emulator import TwilioEmulator


async def _texted(running: RunningApp, probe: OutboxProbe, twilio: TwilioEmulator) -> tuple[str, str]:
    approval = await submit(running, probe)
    step = next(j for j, _ in scheduled(running.runtime.settings) if f"esc-{approval['id']}-2-0" in j)
    make_due(running.runtime.settings, step)
    await run_burst(running.runtime.settings)
    sms = (await twilio.wait_for_accepted(1))[0]
    found = re.search(r"Reply YES ([A-Z0-9]{6}) or NO \1 reason", sms.body)
    assert found, sms.body
    return approval["id"], found.group(1)


async def test_sms_reply_approves(esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator) -> None:
    running, probe = esc_app
    approval_id, code = await _texted(running, probe, twilio)
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"yes {code}")
    assert status == 200 and "delete_user_data is approved" in reply
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.approved
    assert approval.decision is not None and approval.decision.by.channel == "sms"
    assert approval.decision.by.id == ALICE_PHONE
    # A second reply changes nothing and says why.
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"NO {code}")
    assert status == 200 and "nothing changed" in reply and "already approved" in reply


async def test_a_replayed_webhook_is_ignored(esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator) -> None:
    running, probe = esc_app
    approval_id, code = await _texted(running, probe, twilio)
    # A correctly signed webhook captured and played again (Twilio signs no timestamp): same MessageSid.
    sid = "SM" + "ab" * 16
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, "+15559990000", f"YES {code}", message_sid=sid)
    assert status == 200 and "no request with code" in reply
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, "+15559990000", f"YES {code}", message_sid=sid)
    assert status == 200 and reply == ""
    reasons = [e["detail"]["reason"] for e in await all_audit(running) if e["type"] == "sms_refused"]
    assert reasons == ["unknown_number", "replay"]
    assert (await running.runtime.service.get(approval_id)).status == Status.pending


async def test_sms_reply_rejects_with_a_reason(esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator) -> None:
    running, probe = esc_app
    approval_id, code = await _texted(running, probe, twilio)
    status, reply = await twilio.send_inbound(
        running.url, PUBLIC_URL, ALICE_PHONE, f"NO {code} wrong customer, check the ticket"
    )
    assert status == 200 and "rejected" in reply
    approval = await running.runtime.service.get(approval_id)
    assert approval.status == Status.rejected
    assert approval.decision is not None and approval.decision.comment == "wrong customer, check the ticket"


async def test_bad_twilio_signature_is_403(esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator) -> None:
    running, probe = esc_app
    approval_id, code = await _texted(running, probe, twilio)
    status, _ = await twilio.send_inbound(
        running.url, PUBLIC_URL, ALICE_PHONE, f"YES {code}", signature="bm90IGEgc2lnbmF0dXJl"
    )
    assert status == 403
    # Signed for another URL (not COUNTERSIGN_PUBLIC_URL): also refused.
    status, _ = await twilio.send_inbound(running.url, "https://evil.example.com", ALICE_PHONE, f"YES {code}")
    assert status == 403
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    refused = [e for e in await all_audit(running) if e["type"] == "sms_refused"]
    assert [e["detail"]["reason"] for e in refused] == ["bad_signature", "bad_signature"]


async def test_unknown_number_and_code_are_refused(
    esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator
) -> None:
    running, probe = esc_app
    approval_id, code = await _texted(running, probe, twilio)
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, "+15559990000", f"YES {code}")
    assert status == 200 and f"no request with code {code} awaits a reply from this number" in reply
    wrong = "AAAAAA" if code != "AAAAAA" else "CCCCCC"
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"YES {wrong}")
    assert status == 200 and f"no request with code {wrong} awaits a reply from this number" in reply
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, "sure, go ahead")
    assert status == 200 and "reply YES <code>" in reply
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    reasons = [e["detail"]["reason"] for e in await all_audit(running) if e["type"] == "sms_refused"]
    assert reasons == ["unknown_number", "unknown_code", "unreadable"]


def test_sms_text_stays_under_320_characters() -> None:
    from datetime import UTC, datetime

    from bot.channels.sms.outbound import sms_text
    from bot.models import Approval

    approval = Approval(
        id="apr_1",
        status="pending",
        action="bulk_update",
        args={"ids": list(range(500))},
        context={},
        agent="billing-agent",
        risk_level="critical",
        risk_reasons=[],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    text = sms_text(approval, "4821", "https://countersign.example.com/requests/apr_1")
    assert len(text) < 320
    # Field by field (issue 9 §6): the long list is opened, and the text says how much is not shown.
    assert text.startswith("[CRITICAL] Approval needed. Agent billing-agent asks: «bulk_update(ids.0=0, ids.1=1")
    assert "fields not shown]" in text
    assert text.endswith(
        ". Reply YES 4821 or NO 4821 reason. Full request: https://countersign.example.com/requests/apr_1"
    )
