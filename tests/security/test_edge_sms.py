"""Guessing SMS reply codes: long codes from an unambiguous alphabet, 5 wrong codes per number per
15 minutes (then even the right code is refused, and audited), and one answer whether a code exists or not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.channels.sms.outbound import CODE_ALPHABET
from bot.models import Status
from tests.escalation.conftest import (
    ALICE_PHONE,
    PUBLIC_URL,
    OutboxProbe,
    all_audit,
    esc_app,
    esc_settings,
    recorder,
    smtp,
    submit,
    twilio,
)
from tests.support.rq_worker import make_due, run_burst, scheduled
from tests.support.servers import RunningApp
from tests.support.twilio_emulator import TwilioEmulator

__all__ = ["esc_app", "esc_settings", "recorder", "smtp", "twilio"]  # fixtures shared with tests/escalation
STRANGER = "+15559990000"


async def _texted(running: RunningApp, probe: OutboxProbe, twilio: TwilioEmulator) -> tuple[str, str]:
    approval = await submit(running, probe)
    step = next(j for j, _ in scheduled(running.runtime.settings) if f"esc-{approval['id']}-2-0" in j)
    make_due(running.runtime.settings, step)
    await run_burst(running.runtime.settings)
    sms = (await twilio.wait_for_accepted(1))[0]
    found = re.search(r"Reply YES (\S+) or NO \1 reason", sms.body)
    assert found, sms.body
    return approval["id"], found.group(1)


@pytest.fixture
async def texted(
    esc_app: tuple[RunningApp, OutboxProbe], twilio: TwilioEmulator
) -> AsyncIterator[tuple[RunningApp, TwilioEmulator, str, str]]:
    running, probe = esc_app
    approval_id, code = await _texted(running, probe, twilio)
    yield running, twilio, approval_id, code


async def test_edge_sms_code_is_long_and_unambiguous(texted: tuple[RunningApp, TwilioEmulator, str, str]) -> None:
    _, _, _, code = texted
    assert len(code) >= 6 and set(code) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("0O1IL")


async def test_edge_sms_code_guessing_is_limited(texted: tuple[RunningApp, TwilioEmulator, str, str]) -> None:
    running, twilio, approval_id, code = texted
    wrong = [c for c in ("AAAAAA", "CCCCCC", "DDDDDD", "EEEEEE", "FFFFFF", "HHHHHH") if c != code][:5]
    for guess in wrong:
        status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"YES {guess}")
        assert status == 200 and "no request with code" in reply
    # The sixth try carries the right code (typed in lower case): refused all the same, and audited.
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"yes {code.lower()}")
    assert status == 200 and "too many wrong codes" in reply
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
    reasons = [e["detail"]["reason"] for e in await all_audit(running) if e["type"] == "sms_refused"]
    assert reasons == ["unknown_code"] * 5 + ["too_many_wrong_codes"]
    # Another number is not held back by this one's guesses... and a stranger's tries count as wrong codes.
    for _ in range(5):
        await twilio.send_inbound(running.url, PUBLIC_URL, STRANGER, f"YES {code}")
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, STRANGER, f"YES {code}")
    assert "too many wrong codes" in reply
    assert (await running.runtime.service.get(approval_id)).status == Status.pending


async def test_edge_sms_code_case_insensitive(texted: tuple[RunningApp, TwilioEmulator, str, str]) -> None:
    running, twilio, approval_id, code = texted
    status, reply = await twilio.send_inbound(running.url, PUBLIC_URL, ALICE_PHONE, f"Yes {code.lower()}")
    assert status == 200 and "approved" in reply
    assert (await running.runtime.service.get(approval_id)).status == Status.approved


async def test_edge_sms_reply_same_for_unknown_code(texted: tuple[RunningApp, TwilioEmulator, str, str]) -> None:
    running, twilio, approval_id, code = texted
    unknown = "AAAAAA" if code != "AAAAAA" else "CCCCCC"
    # A stranger sends a real code and a made-up one: the answers differ only by the code echoed back.
    _, real = await twilio.send_inbound(running.url, PUBLIC_URL, STRANGER, f"YES {code}")
    _, made_up = await twilio.send_inbound(running.url, PUBLIC_URL, STRANGER, f"YES {unknown}")
    assert real.replace(code, "<code>") == made_up.replace(unknown, "<code>")
    assert (await running.runtime.service.get(approval_id)).status == Status.pending
