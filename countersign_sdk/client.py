"""`Countersign`: the gate agents hold. `@gate.require_approval` wraps sync and async functions alike;
`request`/`wait`/`cancel` are there for agents that run their own control flow (`gate.aio` for async)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

from countersign_sdk.errors import (
    ApprovalArgsInvalid,
    ApprovalCancelled,
    ApprovalExpired,
    ApprovalRejected,
    CountersignError,
)
from countersign_sdk.models import Approval
from countersign_sdk.protocol import Plan, Plans, RetryPolicy
from countersign_sdk.signature import CallShape
from countersign_sdk.transport import Endpoint, run_async, run_sync

F = TypeVar("F", bound=Callable[..., Any])
OnReject = Literal["raise", "return"]


def build_body(  # noqa: PLR0913 -- mirrors the request body's optional fields, all keyword
    action: str,
    args: dict[str, Any] | None = None,
    *,
    why: str | None = None,
    context: dict[str, Any] | None = None,
    risk: str | dict[str, Any] | None = None,
    sql: str | None = None,
    args_schema: dict[str, Any] | None = None,
    run_id: str | None = None,
    idempotency_key: str | None = None,
    requested_by: str | None = None,
    timeout_s: int | None = None,
) -> dict[str, Any]:
    """The `POST /v1/approvals` body; `risk` is a level name ("high") or the hints object."""
    merged_context = dict(context or {})
    if why is not None:
        merged_context["why"] = why
    body: dict[str, Any] = {"action": action, "args": args or {}, "context": merged_context}
    if risk is not None:
        body["risk"] = {"level": risk} if isinstance(risk, str) else dict(risk)
    optional = {
        "sql": sql,
        "args_schema": args_schema,
        "run_id": run_id,
        "idempotency_key": idempotency_key,
        "requested_by": requested_by,
        "timeout_s": timeout_s,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def outcome_error(approval: Approval) -> CountersignError | None:
    """None when the call may go ahead; otherwise the error that says why it may not."""
    if approval.go_ahead:
        return None
    decision = approval.decision
    comment = (decision.comment if decision else None) or "no comment"
    by = decision.by.label if decision else "unknown"
    if approval.status == "rejected":
        return ApprovalRejected(f"{approval.action} rejected by {by}: {comment}", approval)
    if approval.status == "expired":
        return ApprovalExpired(f"{approval.action} expired without approval: {comment}", approval)
    if approval.status == "cancelled":
        return ApprovalCancelled(f"{approval.action} was cancelled: {comment}", approval)
    return CountersignError(f"{approval.action} is still {approval.status}")


class AsyncGate:
    """The async face of a `Countersign` (`gate.aio`): the same plans, driven by httpx.AsyncClient."""

    def __init__(self, gate: Countersign) -> None:
        self._gate = gate

    async def _run(self, plan: Plan[Any]) -> Any:
        return await run_async(plan, self._gate.endpoint)

    async def request(self, action: str, args: dict[str, Any] | None = None, **options: Any) -> Approval:
        return cast(Approval, await self._run(self._gate.plans.request(build_body(action, args, **options))))

    async def get(self, approval_id: str) -> Approval:
        return cast(Approval, await self._run(self._gate.plans.get(approval_id)))

    async def wait(self, approval_id: str, timeout: float | None = None) -> Approval:  # noqa: ASYNC109
        return cast(Approval, await self._run(self._gate.plans.wait(approval_id, timeout)))

    async def cancel(self, approval_id: str) -> Approval:
        return cast(Approval, await self._run(self._gate.plans.cancel(approval_id)))

    async def decide(
        self, approval_id: str, outcome: str, comment: str | None = None, args: dict[str, Any] | None = None
    ) -> Approval:
        return cast(Approval, await self._run(self._gate.plans.decide(approval_id, outcome, comment, args)))

    async def report_outcome(self, approval_id: str, status: str, detail: str | None = None) -> Approval:
        return cast(Approval, await self._run(self._gate.plans.report_outcome(approval_id, status, detail)))

    async def list(self, status: str | None = "pending", limit: int = 50) -> list[Approval]:
        return cast(list[Approval], await self._run(self._gate.plans.list(status, limit)))

    async def gate(
        self,
        action: str,
        args: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 -- the documented option, as on the sync client
        **options: Any,
    ) -> Approval:
        """File and wait until decided (cancelling past `timeout`)."""
        plan = self._gate.plans.gate(build_body(action, args, **options), timeout)
        return cast(Approval, await self._run(plan))


class Countersign:
    """`gate = Countersign()` reads COUNTERSIGN_URL and COUNTERSIGN_API_KEY when not given."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        url = url or os.environ.get("COUNTERSIGN_URL")
        api_key = api_key or os.environ.get("COUNTERSIGN_API_KEY")
        if not url:
            raise CountersignError("no server URL: pass url= or set COUNTERSIGN_URL")
        if not api_key:
            raise CountersignError("no API key: pass api_key= or set COUNTERSIGN_API_KEY")
        self.endpoint = Endpoint(url.rstrip("/"), api_key, connect_timeout)
        self.plans = Plans(retry)
        self.aio = AsyncGate(self)

    def __repr__(self) -> str:  # never show the key
        return f"Countersign(url={self.endpoint.url!r})"

    # -- lower level ------------------------------------------------------------------------------
    def _run(self, plan: Plan[Any]) -> Any:
        return run_sync(plan, self.endpoint)

    def request(self, action: str, args: dict[str, Any] | None = None, **options: Any) -> Approval:
        """File a request and return at once (it may already be decided by policy)."""
        return cast(Approval, self._run(self.plans.request(build_body(action, args, **options))))

    def get(self, approval_id: str) -> Approval:
        return cast(Approval, self._run(self.plans.get(approval_id)))

    def wait(self, approval_id: str, timeout: float | None = None) -> Approval:
        """Wait until decided; after `timeout` seconds return it as it stands (maybe still pending)."""
        return cast(Approval, self._run(self.plans.wait(approval_id, timeout)))

    def cancel(self, approval_id: str) -> Approval:
        return cast(Approval, self._run(self.plans.cancel(approval_id)))

    def decide(
        self, approval_id: str, outcome: str, comment: str | None = None, args: dict[str, Any] | None = None
    ) -> Approval:
        """Approve, reject or modify (needs an approver key)."""
        return cast(Approval, self._run(self.plans.decide(approval_id, outcome, comment, args)))

    def list(self, status: str | None = "pending", limit: int = 50) -> list[Approval]:
        return cast(list[Approval], self._run(self.plans.list(status, limit)))

    def gate(
        self, action: str, args: dict[str, Any] | None = None, *, timeout: float | None = None, **options: Any
    ) -> Approval:
        """File and wait until decided (cancelling past `timeout`)."""
        return cast(Approval, self._run(self.plans.gate(build_body(action, args, **options), timeout)))

    def report_outcome(self, approval_id: str, status: str, detail: str | None = None) -> Approval:
        """Tell the server whether the approved call `succeeded` or `failed` (once per request)."""
        return cast(Approval, self._run(self.plans.report_outcome(approval_id, status, detail)))

    def _report(self, approval_id: str, status: str, detail: str | None = None) -> None:
        # The decorator's report: the exception's type only (its message may hold data), and a report that
        # cannot be sent never replaces the function's own result or exception.
        with contextlib.suppress(CountersignError):
            self.report_outcome(approval_id, status, detail)

    async def _report_async(self, approval_id: str, status: str, detail: str | None = None) -> None:
        with contextlib.suppress(CountersignError):
            await run_async(self.plans.report_outcome(approval_id, status, detail), self.endpoint)

    # -- the decorator ----------------------------------------------------------------------------
    def require_approval(  # noqa: C901, PLR0913 -- the public decorator's documented options
        self,
        risk: str | dict[str, Any] | None = None,
        why: str | None = None,
        context: dict[str, Any] | None = None,
        on_reject: OnReject = "raise",
        *,
        action: str | None = None,
        timeout: float | None = None,
        idempotency_key: str | Callable[..., str] | None = None,
        run_id: str | None = None,
        sql: str | None = None,
    ) -> Callable[[F], F]:
        """Run the decorated function only once a human approves the call.

        `idempotency_key` may be a string or a function of the call's arguments (e.g. returning the
        LLM's tool-call id); `timeout` bounds the whole wait (the request is cancelled after it)."""
        if on_reject not in ("raise", "return"):
            raise ValueError("on_reject must be 'raise' or 'return'")

        def decorate(fn: F) -> F:  # noqa: C901 -- one plan and settle shared by the sync and async wrappers
            shape = CallShape(fn)
            name = action or str(getattr(fn, "__name__", "call"))

            def plan(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Plan[Approval], dict[str, Any]]:
                bound = shape.bind(args, kwargs)
                key = idempotency_key(*args, **kwargs) if callable(idempotency_key) else idempotency_key
                body = build_body(
                    name,
                    bound.args,
                    why=why,
                    context=context,
                    risk=risk,
                    sql=sql,
                    args_schema=shape.args_schema,
                    run_id=run_id,
                    idempotency_key=key,
                )
                return self.plans.gate(body, timeout), bound.receiver

            def settle(
                approval: Approval, receiver: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> tuple[tuple[Any, ...], dict[str, Any]] | str:
                """The call to make, or the text to return on a rejection with on_reject='return'."""
                error = outcome_error(approval)
                if isinstance(error, ApprovalRejected) and on_reject == "return":
                    return f"A human rejected {name}: {error.comment or 'no reason given'}"
                if error is not None:
                    raise error
                decision = approval.decision
                if decision is None or decision.outcome != "modify" or decision.args is None:
                    return args, kwargs
                try:
                    values = shape.validate(decision.args)
                    positional, keywords = shape.call_with(values, receiver)
                except (ValueError, TypeError) as exc:
                    raise ApprovalArgsInvalid(
                        f"modified arguments for {name} do not fit its signature: {exc}", approval, str(exc)
                    ) from None
                return tuple(positional), keywords

            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    gate_plan, receiver = plan(args, kwargs)
                    approval = await run_async(gate_plan, self.endpoint)
                    call = settle(approval, receiver, args, kwargs)
                    if isinstance(call, str):
                        return call
                    try:
                        result = await fn(*call[0], **call[1])
                    except BaseException as exc:
                        await self._report_async(approval.id, "failed", type(exc).__name__)
                        raise
                    await self._report_async(approval.id, "succeeded")
                    return result

                return cast(F, async_wrapper)

            @functools.wraps(fn)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                gate_plan, receiver = plan(args, kwargs)
                approval = run_sync(gate_plan, self.endpoint)
                call = settle(approval, receiver, args, kwargs)
                if isinstance(call, str):
                    return call
                try:
                    result = fn(*call[0], **call[1])
                except BaseException as exc:
                    self._report(approval.id, "failed", type(exc).__name__)
                    raise
                self._report(approval.id, "succeeded")
                return result

            return cast(F, sync_wrapper)

        return decorate
