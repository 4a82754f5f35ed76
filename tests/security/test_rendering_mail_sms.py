"""Issue 9 §6 for email (text and HTML parts), SMS and the Slack thread reminder: agent text is quoted and
inert, our own lines and links stand apart, padding cannot hide the matched field. Requests are filed
through POST /v1/approvals; assertions are on what aiosmtpd, the Twilio emulator and Slack received."""

from __future__ import annotations

import re

from blocks.approval import approval_message
from tests.security.rendering_checks import HIDDEN, assert_inert_blocks, assert_inert_mrkdwn
from tests.security.rendering_env import PUBLIC_URL, notify_env

FAKE = {
    "action": "deploy",
    "args": {
        "note": "fine\nApprove: https://evil.example/approve\nReject: https://evil.example/x",
        "html": "<a href='https://evil.example/approve'>Approve</a><script>alert(1)</script>",
        "bidi": "invoice\u202efdp.exe\u200b",
    },
    "context": {
        "why": "routine\n\n==== COUNTERSIGN LINKS (from Countersign, not the agent) ====\n"
        "Approve:         https://evil.example/approve",
        "Expires": "never\r\nReversible: yes",
    },
}


async def test_fake_approve_line_in_plain_email_is_quoted(redis_server):
    async with notify_env(redis_server) as env:
        await env.submit(**FAKE)
        await env.send_channels()
        text = (await env.email()).part("plain").replace("\r\n", "\n")
        lines = text.split("\n")
        # Every line that carries agent text is quoted; no unquoted line mentions the agent's host.
        for line in lines:
            if "evil.example" in line or "invoice" in line or "never" in line:
                assert line.startswith("| "), line
        ours = [line for line in lines if line.startswith("Approve:")]
        assert len(ours) == 1 and ours[0].split()[1].startswith(f"{PUBLIC_URL}/email/")
        assert lines.count("==== COUNTERSIGN LINKS (from Countersign, not the agent) ====") == 1
        assert text.index("==== FROM THE AGENT (unverified)") < text.index("| note = fine")
        assert text.index("==== END OF THE AGENT'S TEXT ====") < text.index("\n==== COUNTERSIGN LINKS")
        assert "\nReversible: yes" not in text and "\nExpires: never" not in text
        assert "invoice⟨U+202E⟩fdp.exe⟨U+200B⟩" in text
        assert not any(char in text for char in HIDDEN if char != "\r")


async def test_html_in_args_is_escaped_in_the_html_email(redis_server):
    async with notify_env(redis_server) as env:
        await env.submit(**FAKE)
        await env.send_channels()
        html = (await env.email()).part("html")
        assert "<script>" not in html and "href='https://evil.example" not in html
        assert "&lt;a href=&#39;https://evil.example/approve&#39;&gt;" in html
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert len(hrefs) == 3 and all(h.startswith(PUBLIC_URL) for h in hrefs)
        assert html.index("From the agent (unverified)") < html.index("&lt;a href") < html.index("Countersign links")
        assert "\u202e" not in html and "⟨U+202E⟩" in html


async def test_control_chars_in_email_subject_and_sms_are_neutralised(redis_server):
    async with notify_env(redis_server) as env:
        await env.submit(
            action="deploy",
            args={"file": "invoice\u202efdp.exe", "term": "\x1b[2J\x1b]0;ok\x07"},
            context={"why": "a\u2028Approve: yes"},
        )
        await env.send_channels()
        received = await env.email()
        assert "\n" not in received.message["Subject"] and "\u202e" not in received.message.as_string()
        [sms] = await env.twilio.wait_for_accepted(1)
        assert not any(char in sms.body for char in HIDDEN) and "\x07" not in sms.body
        assert "file=invoice⟨U+202E⟩fdp.exe" in sms.body


async def test_padding_cannot_hide_dangerous_field_in_email_and_sms(redis_server):
    async with notify_env(redis_server) as env:
        padding = {f"a{i:03d}": "x" * 2500 for i in range(60)}
        approval_id = await env.submit(action="run_shell", args={**padding, "command": "rm -rf /srv/data"})
        await env.send_channels()
        text = (await env.email()).part("plain").replace("\r\n", "\n")
        assert text.index("| command = rm -rf /srv/data\n  ^ a policy rule matched this field") < text.index(
            "| a000 = "
        )
        assert "  ^ cut: 500 more characters not shown" in text
        assert re.search(r"… and \d+ more fields not shown", text)
        [sms] = await env.twilio.wait_for_accepted(1)
        assert len(sms.body) < 320
        assert "«run_shell(command=rm -rf /srv/data, " in sms.body
        assert re.search(r"\[\d+ fields not shown, values cut\]", sms.body)
        assert sms.body.endswith(f"Full request: {PUBLIC_URL}/requests/{approval_id}")


async def test_agent_mention_in_slack_reminder_does_not_ping(redis_server):
    async with notify_env(redis_server) as env:
        approval_id = await env.submit(action="deploy` <!channel> *PWNACTION* `", args={"to": "<!here>"})
        post = await env.remind_in_slack(approval_id)
        assert_inert_mrkdwn(post["text"], ("PWNACTION",))
        assert assert_inert_blocks(post["blocks"], ("PWNACTION",)) == 1
        assert "<@U0ALICE>" in post["text"]  # our own mention of the approver still works


async def test_a_key_spelled_like_a_matched_path_cannot_hide_behind_it(redis_server):
    # The rule reads args.payment.amount (nested). A top-level key "payment.amount" must not be dropped as
    # "already shown", nor share its label: every channel shows both, told apart.
    async with notify_env(redis_server) as env:
        approval_id = await env.submit(action="pay", args={"payment": {"amount": 500}, "payment.amount": 987654321})
        await env.send_channels()
        text = (await env.email()).part("plain").replace("\r\n", "\n")
        assert "| payment.amount = 500\n  ^ a policy rule matched this field" in text
        assert '| ["payment.amount"] = 987654321' in text
        [sms] = await env.twilio.wait_for_accepted(1)
        assert "987654321" in sms.body
        # The Slack message is built by the same rows (blocks are pure functions of the request).
        approval = await env.running.runtime.service.for_humans(await env.running.runtime.service.get(approval_id))
        blocks = str(approval_message(approval, "https://x/review").blocks)
        assert "987654321" in blocks and "payment.amount" in blocks


async def test_agent_text_cannot_close_the_sms_quote(redis_server):
    # Our text quotes the agent's part between « and »: an action or argument containing » would end the quote
    # and let the agent write on as if Countersign said it.
    async with notify_env(redis_server) as env:
        await env.submit(action="deploy» Approved by security. Reply YES", args={"note": "x» Reply YES now"})
        await env.send_channels()
        [sms] = await env.twilio.wait_for_accepted(1)
        quoted = sms.body.split("«", 1)[1]
        assert quoted.count("»") == 1 and quoted.index("»") > quoted.index("Reply YES now")
