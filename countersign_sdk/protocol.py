"""The sans-IO core: every SDK operation is a generator of steps (an HTTP call, a pause), so that
one implementation runs under the sync driver and the async driver alike (see `transport.py`).

A plan yields `Call` or `Pause` and is sent back a `Reply` (or a `Failure` for a transport error);
its return value is the operation's result. Retries, backoff, long-poll re-issue and the overall
deadline all live here, once.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from countersign_sdk.errors import ApprovalTimeout, CountersignAPIError, CountersignUnavailable
from countersign_sdk.models import Approval

log = logging.getLogger("countersign_sdk")

T = TypeVar("T")
MAX_SERVER_WAIT_S = 55  # the server caps ?wait= at 60 s
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    read_timeout: float = 30.0


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


@dataclass(frozen=True)
class Failure:
    error: Exception


Step = Call | Pause
Plan = Generator[Step, Reply | Failure | None, T]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10  # per HTTP call, counting the first
    base: float = 0.2  # first pause; doubles each time
    cap: float = 5.0  # longest pause
    jitter: Callable[[], float] = field(default=random.random)

    def pause(self, attempt: int) -> float:
        # "Full jitter" within the exponential window, never below a tenth of it.
        window = min(self.cap, self.base * (2**attempt))
        return window * (0.1 + 0.9 * self.jitter())


def _api_error(reply: Reply) -> CountersignAPIError:
    body = reply.body if isinstance(reply.body, dict) else {}
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    return CountersignAPIError(
        reply.status,
        str(error.get("code", "http_error")),
        str(error.get("message", f"HTTP {reply.status}")),
        error.get("fields") or {},
    )


class Plans:
    """Builds the plans; holds no connection, only the retry policy and a monotonic clock."""

    def __init__(self, retry: RetryPolicy | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.retry = retry or RetryPolicy()
        self.monotonic = monotonic

    # -- one HTTP call, retried ---------------------------------------------------------------------
    def send(self, call: Call, deadline: float | None = None) -> Plan[Reply]:
        """Send `call`, retrying transport errors and 429/5xx with backoff; 4xx raise at once.

        A POST is only ever retried with the same body, so its idempotency key files it once."""
        last: str = ""
        for attempt in range(self.retry.attempts):
            outcome = yield call
            if isinstance(outcome, Reply) and outcome.status not in RETRY_STATUSES:
                if outcome.status >= 400:
                    raise _api_error(outcome)
                return outcome
            last = (
                f"HTTP {outcome.status}"
                if isinstance(outcome, Reply)
                else f"{type(outcome.error).__name__}: {outcome.error}"
                if isinstance(outcome, Failure)
                else "no reply"
            )
            pause = self.retry.pause(attempt)
            if deadline is not None and self.monotonic() + pause >= deadline:
                break
            if attempt + 1 < self.retry.attempts:
                yield Pause(pause)
        raise CountersignUnavailable(f"{call.method} {call.path} failed: {last}")

    # -- operations ---------------------------------------------------------------------------------
    def request(self, body: dict[str, Any]) -> Plan[Approval]:
        body = dict(body)
        # Always send a key: a POST retried after a lost reply then finds the first request.
        body.setdefault("idempotency_key", None)
        if not body["idempotency_key"]:
            body["idempotency_key"] = f"sdk-{uuid.uuid4()}"
        reply = yield from self.send(Call("POST", "/v1/approvals", json=body))
        approval = Approval.model_validate(reply.body)
        for warning in approval.warnings:  # e.g. timeout_s ignored under on_timeout: approve
            log.warning("%s: %s", approval.id, warning)
        return approval

    def get(self, approval_id: str) -> Plan[Approval]:
        reply = yield from self.send(Call("GET", f"/v1/approvals/{quote(approval_id, safe='')}"))
        return Approval.model_validate(reply.body)

    def wait(self, approval_id: str, timeout: float | None = None) -> Plan[Approval]:
        """Long-poll until decided, re-issuing `GET ?wait=`; after `timeout` s return it as it stands."""
        deadline = None if timeout is None else self.monotonic() + timeout
        path = f"/v1/approvals/{quote(approval_id, safe='')}"
        while True:
            remaining = MAX_SERVER_WAIT_S if deadline is None else deadline - self.monotonic()
            # Round up: the server takes whole seconds, and rounding down would re-issue `?wait=0` in a
            # tight loop for the last fraction of a second.
            wait_s = max(0, min(MAX_SERVER_WAIT_S, math.ceil(remaining)))
            reply = yield from self.send(
                Call("GET", path, params={"wait": str(wait_s)}, read_timeout=wait_s + 15.0), deadline
            )
            approval = Approval.model_validate(reply.body)
            if not approval.pending or (deadline is not None and self.monotonic() >= deadline - 0.05):
                return approval

    def cancel(self, approval_id: str) -> Plan[Approval]:
        try:
            reply = yield from self.send(Call("POST", f"/v1/approvals/{quote(approval_id, safe='')}/cancel"))
        except CountersignAPIError as exc:
            if exc.status != 409:
                raise
            # Decided meanwhile: report it as it stands.
            return (yield from self.get(approval_id))
        return Approval.model_validate(reply.body)

    def decide(
        self, approval_id: str, outcome: str, comment: str | None = None, args: dict[str, Any] | None = None
    ) -> Plan[Approval]:
        body: dict[str, Any] = {"outcome": outcome}
        if comment is not None:
            body["comment"] = comment
        if args is not None:
            body["args"] = args
        reply = yield from self.send(Call("POST", f"/v1/approvals/{quote(approval_id, safe='')}/decision", json=body))
        return Approval.model_validate(reply.body)

    def report_outcome(self, approval_id: str, status: str, detail: str | None = None) -> Plan[Approval]:
        """Tell the server what happened when the approved call ran (`succeeded` or `failed`), once."""
        body: dict[str, Any] = {"status": status}
        if detail is not None:
            body["detail"] = detail[:2000]
        reply = yield from self.send(Call("POST", f"/v1/approvals/{quote(approval_id, safe='')}/outcome", json=body))
        return Approval.model_validate(reply.body)

    def list(self, status: str | None = "pending", limit: int = 50) -> Plan[list[Approval]]:
        params = {"limit": str(limit)}
        if status:
            params["status"] = status
        reply = yield from self.send(Call("GET", "/v1/approvals", params=params))
        return [Approval.model_validate(item) for item in reply.body.get("items", [])]

    def gate(self, body: dict[str, Any], timeout: float | None = None) -> Plan[Approval]:
        """File, then wait until decided; past `timeout` cancel it and raise ApprovalTimeout."""
        approval = yield from self.request(body)
        if approval.pending:
            approval = yield from self.wait(approval.id, timeout)
        if approval.pending:
            approval = yield from self.cancel(approval.id)
            if approval.status == "cancelled":
                raise ApprovalTimeout(
                    f"no decision on {approval.action} within {timeout} s; request cancelled", approval
                )
        return approval
