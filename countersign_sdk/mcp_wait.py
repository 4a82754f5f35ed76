"""Long waits for MCP tools: progress while a human decides, a pending answer before the client's own
timeout (about 60 s in common clients), cancel on the client's `notifications/cancelled`, and
idempotency keys that let a retried call find its request."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from countersign_sdk.client import Countersign
from countersign_sdk.errors import CountersignError
from countersign_sdk.models import Approval

MCP_MAJOR = 2  # the `mcp` major version this code is written against (the [mcp] extra pins it)
DEFAULT_MAX_WAIT_S = 50.0  # below the ~60 s after which common MCP clients give up on a call
PROGRESS_EVERY_S = 10.0
CHECK_MAX_WAIT_S = 50
CANCEL_WITHIN_S = 10.0  # how long a cancel on the client's behalf may take before we give up on it

Report = Callable[[float, str], Awaitable[None]]


def package_version() -> str:
    try:
        return importlib.metadata.version("countersign")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def mcp_version_problem() -> str | None:
    """A plain sentence when the installed `mcp` is missing or of another major version, else None."""
    try:
        found = importlib.metadata.version("mcp")
    except importlib.metadata.PackageNotFoundError:
        return f"needs the `mcp` package {MCP_MAJOR}.x, which is not installed: pip install 'countersign[mcp]'"
    major = found.split(".", 1)[0]
    if major != str(MCP_MAJOR):
        return (
            f"needs the `mcp` package {MCP_MAJOR}.x, but mcp {found} is installed: "
            f"pip install 'countersign[mcp]' (or 'mcp>={MCP_MAJOR},<{MCP_MAJOR + 1}')"
        )
    return None


def dashboard_link(gate: Countersign, approval_id: str) -> str:
    return f"{gate.endpoint.url}/requests/{approval_id}"


class Waiter:
    """Waits on one request for up to `max_wait` seconds, reporting progress every `progress_every`."""

    def __init__(
        self,
        gate: Countersign,
        max_wait: float = DEFAULT_MAX_WAIT_S,
        progress_every: float = PROGRESS_EVERY_S,
        keep_on_cancel: bool = False,
    ) -> None:
        self.gate = gate
        self.max_wait = max_wait
        self.progress_every = max(1.0, progress_every)
        self.keep_on_cancel = keep_on_cancel

    async def wait(self, approval: Approval, seconds: float, report: Report) -> Approval:
        """The request once decided, or as it stands after `seconds`. If this wait is cancelled (the client
        sent `notifications/cancelled` or went away), the request is cancelled too unless keep_on_cancel."""
        started = time.monotonic()
        try:
            while approval.pending:
                left = seconds - (time.monotonic() - started)
                if left <= 0:
                    break
                # Whole seconds: the server's long-poll takes an integer `wait`.
                approval = await self.gate.aio.wait(approval.id, math.ceil(min(self.progress_every, left)))
                if approval.pending:
                    elapsed = time.monotonic() - started
                    await report(elapsed, f"waiting for a human to decide {approval.action} ({approval.id})")
        except anyio.get_cancelled_exc_class():
            if not self.keep_on_cancel:
                with (
                    anyio.CancelScope(shield=True),
                    anyio.move_on_after(CANCEL_WITHIN_S),
                    contextlib.suppress(CountersignError),
                ):
                    await self.gate.aio.cancel(approval.id)
            raise
        return approval

    def pending_text(self, approval: Approval, what: str) -> str:
        return (
            f"{what} is still waiting for a human decision (request {approval.id}, risk "
            f"{approval.risk_level}). Review: {dashboard_link(self.gate, approval.id)}. To get the outcome, "
            f'call check_approval with {{"id": "{approval.id}", "wait_s": {CHECK_MAX_WAIT_S}}}; '
            "it returns the outcome once decided, or this pending answer again."
        )


class CallKeys:
    """Idempotency keys derived from a tool call's name and input: a retry of the same call, while its
    request is undecided, finds that request. Once an outcome has been handed out the key moves on
    (a generation counter), so a later identical call files a new request instead of replaying an old
    approval; the per-process nonce does the same across restarts."""

    LIMIT = 10_000  # keys remembered; bounded whatever the client sends

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nonce = secrets.token_hex(8)
        self.generations: OrderedDict[str, int] = OrderedDict()

    @staticmethod
    def digest(name: str, arguments: dict[str, Any]) -> str:
        canonical = json.dumps([name, arguments], sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def key(self, name: str, arguments: dict[str, Any]) -> str:
        digest = self.digest(name, arguments)
        generation = self.generations.get(digest, 0)
        return f"{self.prefix}-{self.nonce}-{generation}-{digest[:40]}"

    def settled(self, name: str, arguments: dict[str, Any]) -> None:
        digest = self.digest(name, arguments)
        self.generations[digest] = self.generations.get(digest, 0) + 1
        self.generations.move_to_end(digest)
        if len(self.generations) > self.LIMIT:
            # Forgetting a generation would bring an old key back: start a fresh key space instead.
            self.nonce = secrets.token_hex(8)
            self.generations.clear()
