"""Slack shows what matters first: the summary block leads the message, the update after a modify shows
the diff, and /approvals and App Home list the most urgent request first."""

from __future__ import annotations

import json

from blocks.approval import APPROVE, MODIFY
from blocks.modals import ARGS_BLOCK, ARGS_INPUT, COMMENT_BLOCK, COMMENT_INPUT


async def test_summary_block_comes_first_and_carries_the_amount(slack):
    _, message = await slack.submit_and_wait_posted(
        action="payments.refund_charge",
        args={"charge_id": "ch_1"},
        requested_by="dana",
        risk={"cost_usd": 2650.75},
        context={"why": "charged twice", "affected": "customer 4411", "reversible": False},
    )
    header, summary, *rest = message.blocks
    assert header["type"] == "header"
    assert summary["block_id"] == "summary"
    text = summary["text"]["text"]
    assert "`$2,650.75`" in text and "NOT reversible" in text and "`customer 4411`" in text
    assert "`billing-agent` for `dana`" in text and "*Left:*" in text
    # Reasons in words first; the engine's strings only in the details at the end.
    assert "cost_usd:" not in text
    details = json.dumps(rest)
    assert details.index("Classification") > details.index("charged twice")


async def test_update_after_a_modify_shows_the_nested_diff(slack):
    approval, message = await slack.submit_and_wait_posted(
        action="k8s.scale", args={"spec": {"replicas": 12, "image": "v1"}, "service": "api"}
    )
    await slack.player.click("U0ADA", MODIFY, approval["id"], message=message)
    [opened] = await slack.emulator.wait_for("views.open")
    edited = json.dumps({"spec": {"replicas": 4, "image": "v1"}, "dry_run": True})
    status, body = await slack.player.submit_view(
        "U0ADA", opened.args["view"], {ARGS_BLOCK: {ARGS_INPUT: edited}, COMMENT_BLOCK: {COMMENT_INPUT: "fewer"}}
    )
    assert (status, body) == (200, "")
    decided = await slack.approval(approval["id"], wait=5)
    assert {"path": "spec.replicas", "change": "changed", "old": 12, "new": 4} in decided["decision"]["changes"]
    await slack.emulator.wait_for("chat.update")
    text = message.all_text
    assert "`spec.replicas`: `12` → `4`" in text
    assert "`dry_run` added: `true`" in text and "`service` removed" in text
    assert "`spec.image`" not in text  # unchanged fields are not listed


async def test_queue_lists_the_most_urgent_first(slack):
    slack.slack.pacer.interval_s = 0
    # Posted first: a request with no approvers is for the people it was sent to.
    medium, _ = await slack.submit_and_wait_posted(action="job-medium")
    high, _ = await slack.submit_and_wait_posted(action="job-high", risk={"level": "high"})
    soon, _ = await slack.submit_and_wait_posted(action="job-soon", timeout_s=60)
    await slack.player.command("U0ADA")
    [call] = await slack.emulator.wait_for("response_url")
    order = [
        e["value"]
        for b in call.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == APPROVE
    ]
    assert order == [high["id"], soon["id"], medium["id"]], json.dumps(call.args["blocks"])[:3000]
