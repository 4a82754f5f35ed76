"""Block Kit builders are pure: checked here against Slack's limits without a network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from blocks.approval import APPROVE, approval_message, args_diff
from blocks.modals import ModalOrigin, full_request_modal, modify_modal, reject_modal
from blocks.queue import home_view, queue_page
from bot.models import Actor, Approval, Decision, RiskLevel, Status

NOW = datetime(2026, 11, 25, 14, 2, tzinfo=UTC)


def approval(**overrides):
    values = dict(
        id="apr_1",
        status=Status.pending,
        action="a" * 300,
        args={f"k{i}": "v" * 5000 for i in range(40)},
        context={
            "why": "w" * 4000,
            "affected": "<!channel> & more",
            "reversible": False,
            **{f"x{i}": "y" * 4000 for i in range(5)},
        },
        agent="agent-" + "z" * 300,
        risk_level=RiskLevel.critical,
        risk_reasons=["r" * 500] * 20,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        quorum=3,
        sql="DROP TABLE x;" * 5000,
        requested_by="U0BOB",
        run_id="run-" + "q" * 1000,
        args_schema={"type": "object"},
    )
    values.update(overrides)
    return Approval(**values)


def check_sections(blocks):
    for block in blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        Block.parse(block).validate_json()  # slack_sdk's own checks


def test_message_for_huge_request_fits():
    message = approval_message(approval())
    assert len(message.blocks) <= 50
    check_sections(message.blocks)
    assert len(message.text) <= 3000
    small = approval_message(approval(context={"affected": "<!channel> & more"}, args={"to": "<@U0ADA>"}))
    text = str(small.blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; more" in text  # no injected mentions
    assert "<@U0ADA>" not in text


def test_decided_message_has_no_buttons_and_shows_changes():
    before = approval(args={"replicas": 2, "region": "eu"}, quorum=1)
    decided = before.model_copy(
        update={
            "status": Status.approved,
            "decision": Decision(
                outcome="modify",
                by=Actor(channel="slack", id="U0ADA", name="ada"),
                at=NOW,
                comment="fewer",
                args={"replicas": 1, "zone": "b"},
            ),
        }
    )
    message = approval_message(decided)
    text = str(message.blocks)
    assert APPROVE not in text and "Approved with changes" in text and "<@U0ADA>" in text and "fewer" in text
    assert args_diff(before.args, decided.decision.args).splitlines() == [
        '• `region` removed (was `"eu"`)',
        "• `replicas`: `2` → `1`",
        '• `zone` added: `"b"`',
    ]


def test_modals_fit():
    big = approval()
    for view in (
        reject_modal(big, ModalOrigin(big.id, "C1"), True),
        modify_modal(big, ModalOrigin(big.id, "C1")),
        full_request_modal(big),
    ):
        assert len(view["title"]["text"]) <= 24
        assert len(view["blocks"]) <= 100
        assert len(view.get("private_metadata", "")) <= 3000
        check_sections(view["blocks"])
        View(**view).validate_json()
    reject = reject_modal(big, ModalOrigin(big.id), required=True)  # the service's rule decides
    assert reject["blocks"][1]["optional"] is False
    medium = reject_modal(approval(risk_level=RiskLevel.medium), ModalOrigin("apr_1"), required=False)
    assert medium["blocks"][1]["optional"] is True


def test_queue_and_home_fit():
    many = [approval(id=f"apr_{i}") for i in range(120)]
    for page in range(9):
        blocks = queue_page(many, page)
        assert len(blocks) <= 50
        check_sections(blocks)
    home = home_view(many, many)
    assert len(home["blocks"]) <= 100
    check_sections(home["blocks"])
