"""Issue 9 §6 on Slack: an agent's text cannot ping, link, format or pose as Countersign's own lines, and
padding cannot push the field a policy rule matched out of view. Requests are filed through
POST /v1/approvals; the assertions are on what the Slack emulator received."""

from __future__ import annotations

import json
import re
from typing import Any

from blocks.approval import REJECT, VIEW
from tests.security.rendering_checks import assert_inert_blocks, assert_inert_mrkdwn, outside_code
from tests.support.slack_app import SlackHarness, slack_harness

POLICY = """
default_level: medium
levels:
  medium: {channels: [{slack: "#approvals"}], timeout: 1h}
  high: {channels: [{slack: "#approvals"}], approvers: [U0ADA], timeout: 1h}
rules:
  - {name: shell-deletes, match: {action: "run_*", args: {command: {regex: "rm -rf"}}}, level: high}
  - {name: nested, match: {action: "run_*", args: {options.target: {eq: prod}}}, level: high}
"""

MARKERS = ("PWNACTION", "PWNWHY", "PWNARG", "PWNKEY", "PWNCTX", "PWNRUN", "PWNREQ", "PWNAFFECTED")
HOSTILE = {
    "action": "deploy` *PWNACTION* <!channel> `",
    "args": {
        "to": "<!channel> <!here> <!everyone> <@U0ADA> <#C0OPS> <!subteam^S0ONCALL> PWNARG",
        "link": "<https://evil.example/approve|Review now> PWNARG",
        "bare": "https://countersign.example.com/email/approve PWNARG",
        "code": "```\n*APPROVED by ada* PWNARG\n```",
        "quote": "ok\n> *Risk:* low PWNARG\n_fine_ ~no~",
        "PWNKEY *Approved by* <@U0GRACE>": "x",
        "bidi": "invoice\u202efdp.exe\u200b\u2066PWNARG\u2069\U000e0041",
    },
    "context": {
        "why": "because\n*Approved by U0ADA* <!here> PWNWHY",
        "affected": "`all` PWNAFFECTED",
        "Risk level": "*low* PWNCTX",
        "*Approved*": "PWNCTX",
    },
    "run_id": "run` <!channel> PWNRUN",
    "requested_by": "<@U0ADA> PWNREQ",
}


async def _posted(slack: SlackHarness, **request: Any) -> tuple[dict[str, Any], Any]:
    return await slack.submit_and_wait_posted(**request)


async def test_agent_mention_does_not_ping_channel(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        _approval, message = await _posted(slack, **HOSTILE)
        assert assert_inert_blocks(message.blocks, MARKERS) >= 4
        # The notification text Slack shows in alerts is parsed as mrkdwn too.
        assert_inert_mrkdwn(message.text, MARKERS)
        assert "<!channel>" not in message.all_text and "<!here>" not in message.all_text
        assert "<@U0ADA>" not in message.all_text and "<#C0OPS>" not in message.all_text
        assert "<!subteam^" not in message.all_text and "<!everyone>" not in message.all_text
        assert "&lt;!channel&gt;" in message.all_text  # shown, not removed


async def test_labelled_link_in_args_is_inert(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        _approval, message = await _posted(slack, **HOSTILE)
        assert "<https://evil.example" not in message.all_text
        assert "&lt;https://evil.example/approve|Review now&gt;" in message.all_text
        # Agent text sits only in verbatim objects, so Slack auto-links no bare URL the agent wrote.
        assert_inert_blocks(message.blocks, ("countersign.example.com/email",))


async def test_backticks_cannot_break_code_span(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        _approval, message = await _posted(slack, **HOSTILE)
        everything = [o["text"] for o in _mrkdwn(message.blocks)] + [message.text]
        for text in everything:
            rest = outside_code(text)
            assert "PWNACTION" not in rest and "APPROVED" not in rest and "PWNRUN" not in rest, text


async def test_agent_context_key_cannot_pose_as_our_label(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        _approval, message = await _posted(slack, **HOSTILE)
        texts = [o["text"] for o in _mrkdwn(message.blocks)]
        # Our bold labels are ours alone; the agent's keys are in code, in a part marked as the agent's.
        assert not any("*Risk level*" in t or "*Approved*" in outside_code(t) for t in texts)
        assert any("`Risk level`" in t for t in texts)
        joined = "\n".join(texts)
        assert "From the agent (unverified)" in joined
        assert joined.index("RISK") < joined.index("From the agent (unverified)") < joined.index("`Risk level`")


async def test_hidden_characters_are_shown(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        _approval, message = await _posted(slack, **HOSTILE)
        assert "invoice⟨U+202E⟩fdp.exe⟨U+200B⟩⟨U+2066⟩PWNARG⟨U+2069⟩⟨U+E0041⟩" in message.all_text


async def test_padding_cannot_hide_dangerous_field(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        padding = {f"a{i:03d}": "x" * 3000 for i in range(40)}
        _approval, message = await _posted(
            slack,
            action="run_shell",
            args={**padding, "options": {"pad": "y" * 9000, "target": "prod"}, "command": "rm -rf /srv/data"},
        )
        texts = [o["text"] for o in _mrkdwn(message.blocks)]
        joined = "\n".join(texts)
        # The fields the rules matched come first, whole, flagged; each other value is cut on its own.
        assert "`command` :triangular_flag_on_post:" in joined and "`rm -rf /srv/data`" in joined
        assert "`options.target` :triangular_flag_on_post:" in joined and "`prod`" in joined
        assert joined.index("`command`") < joined.index("`a000`")
        assert "(2,500 more characters)" in joined
        assert re.search(
            r"… and \d+ more fields: <http://127\.0\.0\.1:3000/requests/apr_\w+\|open the full request>", joined
        )
        assert len(message.blocks) <= 50 and all(len(t) <= 3000 for t in texts)


async def test_modals_queue_and_home_show_agent_text_inert(redis_server):
    async with slack_harness(redis_server, POLICY) as slack:
        approval, message = await _posted(slack, **HOSTILE)
        surfaces: list[Any] = []
        for action_id in (VIEW, REJECT):
            await slack.player.click("U0ADA", action_id, approval["id"], message=message)
        opened = await slack.emulator.wait_for("views.open", count=2)
        surfaces.extend(call.args["view"] for call in opened)
        await slack.player.command("U0ADA")
        [listing] = await slack.emulator.wait_for("response_url")
        surfaces.append(listing.args["blocks"])
        await slack.player.event(
            {"type": "app_home_opened", "user": "U0ADA", "channel": "D0ADA", "tab": "home", "event_ts": "1.2"}
        )
        [home] = await slack.emulator.wait_for("views.publish")
        surfaces.append(home.args["view"])
        for surface in surfaces:
            assert assert_inert_blocks(surface, MARKERS) >= 1, json.dumps(surface)[:500]
        full = json.dumps(surfaces[0])
        assert "PWNKEY" in full and "PWNWHY" in full  # the full request shows it all, inert


def _mrkdwn(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from tests.security.rendering_checks import text_objects

    return [o for o in text_objects(blocks) if o["type"] == "mrkdwn"]
