"""The sans-IO core driven by hand: retries, backoff, the idempotency key, long-poll re-issue."""

from __future__ import annotations

import httpx
import pytest

from countersign_sdk import ApprovalTimeout, CountersignAPIError, CountersignUnavailable
from countersign_sdk.protocol import Call, Failure, Pause, Plans, Reply, RetryPolicy


def pending(approval_id="apr_1", status="pending"):
    return {"id": approval_id, "status": status, "action": "deploy", "args": {}}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(plan, replies, clock: FakeTime | None = None):
    """Feed `replies` (one per Call) into the plan; returns (result, steps)."""
    steps = []
    outcome = None
    replies = list(replies)
    while True:
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            return done.value, steps
        steps.append(step)
        if isinstance(step, Pause):
            if clock:
                clock.now += step.seconds
            outcome = None
        else:
            outcome = replies.pop(0)


def plans(clock=None) -> Plans:
    return Plans(RetryPolicy(attempts=4, base=0.2, cap=5, jitter=lambda: 1.0), clock or FakeTime())


def test_retried_post_reuses_idempotency_key():
    result, steps = drive(
        plans().request({"action": "deploy"}),
        [Failure(httpx.ConnectError("refused")), Reply(503, {}), Reply(201, pending())],
    )
    calls = [s for s in steps if isinstance(s, Call)]
    assert len(calls) == 3
    keys = {c.json["idempotency_key"] for c in calls}
    assert len(keys) == 1 and next(iter(keys)).startswith("sdk-")
    assert [s.seconds for s in steps if isinstance(s, Pause)] == [0.2, 0.4]  # exponential backoff
    assert result.id == "apr_1"


def test_given_idempotency_key_is_kept():
    _, steps = drive(plans().request({"action": "deploy", "idempotency_key": "call_9"}), [Reply(201, pending())])
    assert steps[0].json["idempotency_key"] == "call_9"


def test_gives_up_after_attempts():
    with pytest.raises(CountersignUnavailable, match="ConnectError"):
        drive(plans().get("apr_1"), [Failure(httpx.ConnectError("refused"))] * 4)


def test_client_errors_are_not_retried():
    with pytest.raises(CountersignAPIError) as caught:
        drive(plans().get("apr_1"), [Reply(404, {"error": {"code": "not_found", "message": "no approval"}})])
    assert caught.value.code == "not_found"


def test_long_poll_is_reissued_until_decided():
    replies = [Reply(200, pending()), Reply(200, pending()), Reply(200, pending(status="approved"))]
    result, steps = drive(plans().wait("apr_1"), replies)
    calls = [s for s in steps if isinstance(s, Call)]
    assert [c.params for c in calls] == [{"wait": "55"}] * 3
    assert result.status == "approved"


def test_gate_timeout_cancels():
    clock = FakeTime()
    gate = plans(clock).gate({"action": "deploy"}, timeout=3)
    outcome = None
    seen = []
    with pytest.raises(ApprovalTimeout):
        while True:
            step = gate.send(outcome)
            seen.append(step)
            if step.method == "POST" and step.path.endswith("/cancel"):
                outcome = Reply(200, pending(status="cancelled"))
            elif step.method == "POST":
                outcome = Reply(201, pending())
            else:
                assert step.params == {"wait": "3"}
                clock.now += 3  # the server held the long-poll for the whole wait
                outcome = Reply(200, pending())
    assert [s.path for s in seen] == ["/v1/approvals", "/v1/approvals/apr_1", "/v1/approvals/apr_1/cancel"]


def test_wait_with_a_fractional_timeout_sends_one_long_poll_not_a_spin():
    clock = FakeTime()
    waiting = plans(clock).wait("apr_1", timeout=2.5)
    step = waiting.send(None)
    assert step.params == {"wait": "3"}  # rounded up: a `wait=0` loop would hammer the server
    clock.now += 2.5
    try:
        waiting.send(Reply(200, pending()))
    except StopIteration as done:
        assert done.value.pending
    else:
        raise AssertionError("a second long-poll was issued after the deadline")
