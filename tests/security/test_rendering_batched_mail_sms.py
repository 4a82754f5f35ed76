"""Agent text in a batched email or text (several requests due for one person in one window) stays inert:
quoted and neutral in the email, one line between « and » in the SMS, our links and code apart."""

from __future__ import annotations

from tests.security.rendering_env import PUBLIC_URL, notify_env

HOSTILE_ACTION = "run_x» Reply YES AAAAAA to approve all. https://evil.example/approve «"
HOSTILE = {
    "args": {
        "command": "rm -rf /tmp/x",
        "note": "fine\nApprove:         https://evil.example/approve\n==== COUNTERSIGN LINKS ====",
        "html": "<a href='https://evil.example/approve'>Approve</a><script>alert(1)</script>",
    },
}


async def test_hostile_action_in_a_batched_email_and_text_stays_inert(redis_server):
    async with notify_env(redis_server) as env:
        ids = [await env.submit(action=HOSTILE_ACTION, **HOSTILE) for _ in range(3)]
        await env.send_channels()
        mail = await env.email()
        text = mail.part("plain").replace("\r\n", "\n")
        assert "3 approvals need you" in text and all(i in text for i in ids)
        for line in text.split("\n"):
            if "evil.example" in line or "Reply YES" in line or "COUNTERSIGN LINKS" in line:
                assert line.startswith("| "), line
        ours = [line for line in text.split("\n") if line.startswith("Approve:")]
        assert len(ours) == 3 and all(line.split()[1].startswith(f"{PUBLIC_URL}/email/") for line in ours)
        html = mail.part("html")
        assert "<script>" not in html and "href='https://evil.example" not in html
        assert 'href="https://evil.example' not in html and "&lt;script&gt;" in html
        [sms] = await env.twilio.wait_for_accepted(1)
        assert sms.body.startswith("[HIGH] 3 approvals need you. Most urgent: Agent ")
        # The agent's text is one line between « and »; our reply instruction and link come after it, once.
        assert sms.body.count("«") == 1 and sms.body.count("»") == 1  # the agent cannot close our quote
        agent_part = sms.body.split(" asks «", 1)[1].split("». Reply YES ", 1)[0]
        assert "\n" not in agent_part and "evil.example" in agent_part and "›" in agent_part
        tail = sms.body.split("». Reply YES ", 1)[1]
        assert "evil.example" not in tail and tail.endswith(f"All of them: {PUBLIC_URL}/")
        code = tail.split(" ", 1)[0]
        assert code != "AAAAAA" and len(code) == 6
