"""The agent callback job: POST the final approval, signed; back off and retry for up to 24 h."""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp

from bot.agent_view import agent_approval
from bot.channels.callbacks.outbound import (
    HEADER,
    check_delivery_target,
    checked_session,
    secret_for_agent,
    signature_header,
)
from bot.keys import Keys
from bot.models import Actor, Status
from bot.netpolicy import CallbackAllow
from bot.runtime import Runtime
from jobs import context
from jobs.scheduling import callback_job_id

log = logging.getLogger(__name__)
CALLBACK = Actor(channel="policy", id="callback", name="callback")
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT_S = 15


def backoff(attempt: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 h between attempts."""
    return timedelta(seconds=min(30 * 2 ** (attempt - 1), 3600))


def deliver_callback(approval_id: str, attempt: int) -> str:
    result, retry_in = context.run(lambda runtime: post_callback(runtime, approval_id, attempt))
    if retry_in is not None:
        settings, _url = context.current()
        next_id = callback_job_id(Keys(settings.countersign_redis_prefix), approval_id, attempt + 1)
        context.job_queue().enqueue_in(
            retry_in, "jobs.callbacks.deliver_callback", approval_id, attempt + 1, job_id=next_id, result_ttl=3600
        )
    return result


async def post_callback(runtime: Runtime, approval_id: str, attempt: int) -> tuple[str, timedelta | None]:
    """One attempt; returns (result, wait before the next attempt or None)."""
    stored = await runtime.store.get(approval_id)
    if stored is None or stored.approval.status == Status.pending or not stored.approval.callback_url:
        return "skipped", None
    approval = stored.approval
    url = approval.callback_url or ""
    secret = secret_for_agent(runtime.settings.agent_keys, approval.agent)
    if secret is None:
        await runtime.service.record(
            "callback",
            approval_id,
            CALLBACK,
            url=url,
            attempt=attempt,
            result="no_key",
            detail=f"no API key for agent {approval.agent!r}",
        )
        return "no key", None
    now = runtime.clock.now()
    # The agent gets the approval as its own API shows it: approvers by name, never their addresses.
    body = agent_approval(approval).model_dump_json().encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Countersign",
        HEADER: signature_header(secret, body, int(now.timestamp())),
    }
    status, error = await _post(runtime.settings.callback_allow, url, body, headers)
    # Every failure is retried alike (a 4xx, a 5xx, a refused connection, a refused address), so the
    # agent cannot tell them apart from the pattern of attempts either.
    retryable = status is None or not 200 <= status < 300
    decided_at = approval.decision.at if approval.decision else approval.updated_at or now
    wait = backoff(attempt)
    give_up = retryable and now + wait - decided_at > GIVE_UP_AFTER
    result = "delivered" if not retryable else "retrying" if not give_up else "failed"
    next_in = int(wait.total_seconds()) if result == "retrying" else None
    await runtime.service.record(
        "callback",
        approval_id,
        CALLBACK,
        url=url,
        attempt=attempt,
        result=result,
        http_status=status,
        error=error,
        next_attempt_in_s=next_in,
    )
    log.info("callback %s attempt %d to %r: %s (status %s, %r)", approval_id, attempt, url, result, status, error)
    return result, (wait if result == "retrying" else None)


async def _post(allow: CallbackAllow, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """One POST, to an allowed address only and without following redirects: (status, error)."""
    try:
        check_delivery_target(url, allow)
        async with (
            checked_session(allow) as session,
            session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S), allow_redirects=False
            ) as response,
        ):
            return response.status, None
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        cause = getattr(exc, "os_error", None) or exc  # aiohttp wraps the resolver's refusal
        return None, f"{type(cause).__name__}: {cause}"[:300]
