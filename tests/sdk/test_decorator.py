"""`@gate.require_approval` on sync and async functions against a running server."""

from __future__ import annotations

import asyncio
import inspect
from typing import Annotated, Literal

import pytest
from pydantic import AfterValidator, BaseModel

from countersign_sdk import (
    ApprovalCancelled,
    ApprovalExpired,
    ApprovalRejected,
    ApprovalTimeout,
    Countersign,
    CountersignAPIError,
)
from tests.support.agents import decide, fetch, filed
from tests.support.servers import AGENT_KEY


class Refund(BaseModel):
    order: str
    cents: int


def make_tools(gate: Countersign, calls: list[tuple[str, dict]]):
    @gate.require_approval(risk="high", why="customer asked")
    def delete_user_data(user_id: int, region: Literal["eu", "us"] = "eu", *, hard: bool = False) -> str:
        """Delete everything we hold on a user."""
        calls.append(("delete_user_data", {"user_id": user_id, "region": region, "hard": hard}))
        return f"deleted {user_id} in {region}"

    @gate.require_approval(why="refund", on_reject="return")
    async def refund(refund: Refund, note: str = "") -> str:
        """Refund an order."""
        calls.append(("refund", {"refund": refund, "note": note}))
        return f"refunded {refund.cents} on {refund.order}"

    return delete_user_data, refund


@pytest.fixture
def gate(app) -> Countersign:
    return Countersign(url=app.url, api_key=AGENT_KEY)


def test_wrapper_keeps_name_doc_signature(gate):
    def plain(user_id: int, region: str = "eu", *, hard: bool = False) -> str:
        """Doc."""
        return ""

    async def plain_async(x: int) -> int:
        return x

    wrapped = gate.require_approval()(plain)
    wrapped_async = gate.require_approval()(plain_async)
    assert wrapped.__name__ == "plain" and wrapped.__doc__ == "Doc." and wrapped.__wrapped__ is plain
    assert inspect.signature(wrapped) == inspect.signature(plain)
    assert inspect.iscoroutinefunction(wrapped_async)
    assert inspect.signature(wrapped_async) == inspect.signature(plain_async)


async def test_sync_approve_sends_named_args_and_schema(app, gate):
    calls: list = []
    delete_user_data, _ = make_tools(gate, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(delete_user_data, 42, hard=True))
        approval_id = await queue.next()
        stored = await fetch(app, approval_id)
        assert stored["action"] == "delete_user_data"
        assert stored["args"] == {"user_id": 42, "region": "eu", "hard": True}
        assert stored["risk_level"] == "high" and stored["context"]["why"] == "customer asked"
        schema = stored["args_schema"]
        assert schema["required"] == ["user_id"] and schema["properties"]["region"]["enum"] == ["eu", "us"]
        assert not calls  # nothing runs before the decision
        await decide(app, approval_id, "approve", "fine")
        assert await asyncio.wait_for(running, 20) == "deleted 42 in eu"
    assert calls == [("delete_user_data", {"user_id": 42, "region": "eu", "hard": True})]


async def test_sync_reject_raises_and_never_runs(app, gate):
    calls: list = []
    delete_user_data, _ = make_tools(gate, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(delete_user_data, 7))
        await decide(app, await queue.next(), "reject", "not this one")
        with pytest.raises(ApprovalRejected) as caught:
            await asyncio.wait_for(running, 20)
    assert caught.value.comment == "not this one" and caught.value.approver == "ada"
    assert calls == []


async def test_sync_modify_runs_with_approvers_args(app, gate):
    calls: list = []
    delete_user_data, _ = make_tools(gate, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(delete_user_data, 42, "us", hard=True))
        await decide(
            app, await queue.next(), "modify", "soft delete only", args={"user_id": 42, "region": "us", "hard": False}
        )
        assert await asyncio.wait_for(running, 20) == "deleted 42 in us"
    assert calls == [("delete_user_data", {"user_id": 42, "region": "us", "hard": False})]


async def test_modify_outside_schema_is_refused_by_server(app, gate):
    calls: list = []
    delete_user_data, _ = make_tools(gate, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(asyncio.to_thread(delete_user_data, 42))
        approval_id = await queue.next()
        resp = await app.client.post(
            f"/v1/approvals/{approval_id}/decision",
            json={"outcome": "modify", "args": {"user_id": "x", "region": "mars"}},
            headers={"Authorization": "Bearer approver-secret-0123456789abcdef"},
        )
        assert resp.status == 400
        assert set((await resp.json())["error"]["fields"]) >= {"args.region"}
        await decide(app, approval_id, "reject", "no")
        with pytest.raises(ApprovalRejected):
            await asyncio.wait_for(running, 20)
    assert calls == []


async def test_async_approve_reject_modify(app, gate):
    calls: list = []
    _, refund = make_tools(gate, calls)
    async with filed(app) as queue:
        running = asyncio.create_task(refund(Refund(order="o-1", cents=500), note="late"))
        approval_id = await queue.next()
        assert (await fetch(app, approval_id))["args"] == {"refund": {"order": "o-1", "cents": 500}, "note": "late"}
        await decide(app, approval_id, "approve")
        assert await asyncio.wait_for(running, 20) == "refunded 500 on o-1"

        running = asyncio.create_task(refund(Refund(order="o-2", cents=900)))
        await decide(app, await queue.next(), "reject", "too much")
        assert await asyncio.wait_for(running, 20) == "A human rejected refund: too much"

        running = asyncio.create_task(refund(Refund(order="o-3", cents=900)))
        await decide(
            app, await queue.next(), "modify", "half", args={"refund": {"order": "o-3", "cents": 450}, "note": ""}
        )
        assert await asyncio.wait_for(running, 20) == "refunded 450 on o-3"
    # The modified dict was validated into the model the function expects.
    assert [c[1]["refund"] for c in calls] == [Refund(order="o-1", cents=500), Refund(order="o-3", cents=450)]


async def test_function_errors_propagate_unchanged(app, gate):
    class Boom(Exception):
        pass

    @gate.require_approval()
    async def explode() -> None:
        raise Boom("from the tool")

    async with filed(app) as queue:
        running = asyncio.create_task(explode())
        await decide(app, await queue.next(), "approve")
        with pytest.raises(Boom, match="from the tool"):
            await asyncio.wait_for(running, 20)


async def test_expired_and_cancelled_are_distinct(app, gate):
    @gate.require_approval()
    async def deploy(env: str) -> str:
        raise AssertionError("must not run")

    async with filed(app) as queue:
        running = asyncio.create_task(deploy("prod"))
        approval_id = await queue.next()
        app.runtime.service.clock = _Later(app.runtime.service.clock)
        assert (await app.runtime.service.expire(approval_id)) is not None
        with pytest.raises(ApprovalExpired):
            await asyncio.wait_for(running, 20)

        running = asyncio.create_task(deploy("prod"))
        approval_id = await queue.next()
        await gate.aio.cancel(approval_id)
        with pytest.raises(ApprovalCancelled):
            await asyncio.wait_for(running, 20)


async def test_overall_timeout_cancels_the_request(app, gate):
    @gate.require_approval(timeout=1)
    async def deploy(env: str) -> str:
        raise AssertionError("must not run")

    with pytest.raises(ApprovalTimeout) as caught:
        await deploy("prod")
    assert (await fetch(app, caught.value.approval.id))["status"] == "cancelled"


async def test_idempotency_key_files_once(app, gate):
    first = await gate.aio.request("deploy", {"env": "prod"}, idempotency_key="tool-call-1")
    again = await gate.aio.request("deploy", {"env": "prod"}, idempotency_key="tool-call-1")
    assert first.id == again.id


async def test_bad_key_is_a_clear_error(app):
    gate = Countersign(url=app.url, api_key="wrong-key-0123456789")
    with pytest.raises(CountersignAPIError) as caught:
        await gate.aio.request("deploy")
    assert caught.value.status == 401


class _Later:
    """A clock two days ahead, so that the request is past its expiry."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def now(self):
        from datetime import timedelta

        return self.inner.now() + timedelta(days=2)


APPROVE_ON_TIMEOUT = """
default_level: medium
levels:
  medium: {channels: [{web: queue}], timeout: 1h, on_timeout: approve}
"""


async def test_expired_under_on_timeout_approve_runs(settings):
    from tests.support.servers import running_app

    async with running_app(settings, APPROVE_ON_TIMEOUT) as app:
        gate = Countersign(url=app.url, api_key=AGENT_KEY)
        ran: list[str] = []

        @gate.require_approval()
        async def rotate_keys(service: str) -> str:
            ran.append(service)
            return "rotated"

        async with filed(app) as queue:
            running = asyncio.create_task(rotate_keys("billing"))
            approval_id = await queue.next()
            app.runtime.service.clock = _Later(app.runtime.service.clock)
            expired = await app.runtime.service.expire(approval_id)
            assert expired.status == "expired" and expired.decision.outcome == "approve"
            # The policy chose to proceed when nobody answers: the SDK follows it.
            assert await asyncio.wait_for(running, 20) == "rotated"
        assert ran == ["billing"]


async def test_settings_from_environment(app, monkeypatch):
    monkeypatch.setenv("COUNTERSIGN_URL", app.url)
    monkeypatch.setenv("COUNTERSIGN_API_KEY", AGENT_KEY)
    gate = Countersign()
    assert AGENT_KEY not in repr(gate)
    approval = await gate.aio.request("deploy", {"env": "prod"}, why="release", run_id="run-1")
    assert approval.status == "pending" and approval.run_id == "run-1"
    # wait() with a timeout returns the request as it stands.
    assert (await gate.aio.wait(approval.id, timeout=0)).status == "pending"
    monkeypatch.delenv("COUNTERSIGN_URL")
    from countersign_sdk import CountersignError

    with pytest.raises(CountersignError, match="COUNTERSIGN_URL"):
        Countersign()


def _no_prod(env: str) -> str:
    if env == "prod":
        raise ValueError("prod is off limits")
    return env


NotProd = Annotated[str, AfterValidator(_no_prod)]


async def test_modified_args_failing_the_signature_never_run(app, gate):
    from countersign_sdk import ApprovalArgsInvalid

    ran: list[str] = []

    @gate.require_approval()
    async def deploy(env: NotProd) -> str:
        ran.append(env)
        return env

    async with filed(app) as queue:
        running = asyncio.create_task(deploy("staging"))
        # The JSON Schema cannot express the validator, so the server accepts; the SDK checks it.
        await decide(app, await queue.next(), "modify", args={"env": "prod"})
        with pytest.raises(ApprovalArgsInvalid, match="prod is off limits"):
            await asyncio.wait_for(running, 20)
    assert ran == []
