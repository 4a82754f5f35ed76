"""Email Approve/Reject links: GET shows a confirm page, only its POST decides (through the service)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.common.errors import PAGE_TITLE, http_status
from bot.channels.common.pages import message_page, page
from bot.channels.common.smtp import SmtpConfig
from bot.channels.common.tokens import BadToken, LinkClaim, LinkTokens
from bot.channels.email.outbound import context_fields
from bot.display import one_line
from bot.errors import CountersignError, NotFound
from bot.models import Actor, Status
from bot.runtime import Runtime
from bot.secrets import signing_key
from bot.service import Decider
from bot.summary import changes_sentence

log = logging.getLogger(__name__)
TOKENS = web.AppKey("email_link_tokens", LinkTokens)
RUNTIME = web.AppKey("email_link_runtime", Runtime)
_REFUSALS = {
    "forged": ("Link not valid", "This link is not valid. Nothing was decided.", 400),
    "expired": ("Link expired", "This link has expired. Nothing was decided.", 410),
    "used": ("Link already used", "This link has already been used. Nothing more was decided.", 410),
}


async def _refuse(runtime: Runtime, reason: str, claim: LinkClaim | None, method: str) -> web.Response:
    actor = Actor(channel="email", id=claim.recipient if claim else "unknown")
    await runtime.service.record(
        "link_refused", claim.approval_id if claim else None, actor, reason=reason, method=method
    )
    title, message, status = _REFUSALS[reason]
    return message_page(title, message, status)


def _claim(request: web.Request) -> LinkClaim | BadToken:
    try:
        return request.app[TOKENS].read(request.match_info["token"], request.app[RUNTIME].clock.now())
    except BadToken as exc:
        return exc


async def confirm_page(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    claim = _claim(request)
    if isinstance(claim, BadToken):
        return await _refuse(runtime, claim.reason, claim.claim, "GET")
    if await request.app[TOKENS].is_used(claim):
        return await _refuse(runtime, "used", claim, "GET")
    return await _confirm(runtime, claim)


async def _confirm(runtime: Runtime, claim: LinkClaim, error: str | None = None) -> web.Response:
    """The page that asks to confirm (and, where the policy requires one, for the reason)."""
    try:
        stored = await runtime.service.get_stored(claim.approval_id)
    except NotFound:
        return message_page("Request not found", "This request no longer exists. Nothing was decided.", 404)
    approval = stored.approval
    if approval.status != Status.pending:
        return message_page("Already decided", f"This request is already {approval.status.value}.", 409)
    verb = "Approve" if claim.outcome == "approve" else "Reject"
    approval = await runtime.service.for_humans(approval)
    return page(
        "confirm.html.j2",
        400 if error else 200,
        approval=approval,
        context=context_fields(approval),
        verb=verb,
        outcome=claim.outcome,
        recipient=claim.recipient,
        error=error,
        reason_required=runtime.service.reason_required(stored, claim.outcome),  # type: ignore[arg-type]
        review_url=f"{runtime.settings.countersign_public_url}/requests/{approval.id}",
    )


async def decide(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    claim = _claim(request)
    if isinstance(claim, BadToken):
        return await _refuse(runtime, claim.reason, claim.claim, "POST")
    form = await request.post()
    comment = str(form.get("comment") or "").strip()[:4000] or None
    try:
        stored = await runtime.service.get_stored(claim.approval_id)
    except NotFound:
        return message_page("Request not found", "This request no longer exists. Nothing was decided.", 404)
    if comment is None and runtime.service.reason_required(stored, claim.outcome):  # type: ignore[arg-type]
        # Asked before the link is used up, so the approver can give the reason and use it again.
        return await _confirm(runtime, claim, "A reason is required to reject this request: write it below.")
    try:
        await request.app[TOKENS].consume(claim, runtime.clock.now())
    except BadToken as exc:
        return await _refuse(runtime, exc.reason, claim, "POST")
    decider = Decider(
        channel="email", id=claim.recipient, name=claim.recipient, identities=frozenset({claim.recipient})
    )
    try:
        approval = await runtime.service.decide(
            claim.approval_id,
            decider,
            claim.outcome,  # type: ignore[arg-type]
            comment=comment,
        )
    except NotFound:
        return message_page("Request not found", "This request no longer exists. Nothing was decided.", 404)
    except CountersignError as exc:
        status = http_status(exc)
        return message_page(PAGE_TITLE.get(status, "Not accepted"), f"Nothing changed: {exc.message}.", status)
    if approval.status == Status.pending:
        return message_page("Vote recorded", "Your vote is recorded; the request needs more approvals.", 200)
    shown = await runtime.service.for_humans(approval)  # a modified decision's changes, masked values masked
    return message_page(
        f"Request {approval.status.value}",
        f"{one_line(approval.action, 120)} is now {approval.status.value}{changes_sentence(shown)}. "
        "The agent is being told.",
        200,
    )


def install(app: web.Application, runtime: Runtime) -> None:
    app[RUNTIME] = runtime
    app.router.add_get("/email/{token}", confirm_page)
    app.router.add_post("/email/{token}", decide)

    async def load_key(app: web.Application) -> None:
        app[TOKENS] = LinkTokens(
            await signing_key(runtime.settings, runtime.redis, runtime.keys), runtime.redis, runtime.keys
        )

    app.on_startup.append(load_key)
    if runtime.settings.smtp_url:
        SmtpConfig.parse(runtime.settings.smtp_url)  # a malformed SMTP_URL stops `serve` with exit code 2
    else:
        log.info("email: SMTP_URL is not set; email notifications are off (links still work)")
