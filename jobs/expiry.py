"""The expiry job: at `expires_at` a still-pending request becomes `expired` with its safe default."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from bot.models import Status
from bot.runtime import Runtime
from jobs import context

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 30.0


class TooEarly(Exception):
    """RQ's scheduler may start a job up to about a second early: the retry runs it again shortly."""


def sweep_once() -> int:
    """Expire whatever is overdue (a safety net behind the per-request jobs); returns how many."""
    return context.run(lambda runtime: _sweep(runtime))


async def _sweep(runtime: Runtime) -> int:
    expired = await runtime.service.expire_due()
    if expired:
        log.warning("expiry sweep expired %d overdue request(s) whose expiry job did not run", len(expired))
    return len(expired)


def sweep_forever(stop: threading.Event, every_s: float = SWEEP_EVERY_S) -> None:
    """Runs in a thread of `countersign worker`; several workers sweeping at once is safe (atomic)."""
    while not stop.wait(every_s):
        try:
            sweep_once()
        except Exception:  # the sweep must outlive a Redis hiccup
            log.exception("expiry sweep failed; trying again in %.0f s", every_s)


def expire_request(approval_id: str) -> str:
    return context.run(lambda runtime: expire_now(runtime, approval_id))


async def expire_now(runtime: Runtime, approval_id: str) -> str:
    stored = await runtime.store.get(approval_id)
    if stored is None or stored.approval.status != Status.pending:
        return "skipped: no longer pending"
    approval = await runtime.service.expire(approval_id)
    if approval is not None:
        return f"expired ({approval.decision.outcome if approval.decision else '?'})"
    stored = await runtime.store.get(approval_id)
    if stored is not None and stored.approval.status == Status.pending:
        early = stored.approval.expires_at - runtime.clock.now()
        if early > timedelta(0):
            raise TooEarly(f"{approval_id} expires in {early.total_seconds():.1f}s")
    return "skipped: decided meanwhile"
