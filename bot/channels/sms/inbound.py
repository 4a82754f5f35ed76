"""Twilio's inbound SMS webhook: verify the signature, match the code and sender, decide, reply in TwiML."""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.channels.sms import keys as sms_keys
from bot.channels.sms.outbound import REPLY, approval_for_code, reply_code, twilio_configured
from bot.display import one_line
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.models import Actor
from bot.ratelimit import WindowLimit
from bot.runtime import Runtime
from bot.service import Decider
from bot.summary import changes_sentence

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("sms_runtime", Runtime)
VALIDATOR = web.AppKey("sms_validator", RequestValidator)
PATH = "/sms/inbound"
REPLAY_WINDOW_S = 7 * 86400
WRONG_CODES_ALLOWED = 5
WRONG_CODES_WINDOW_S = 15 * 60


def wrong_codes(runtime: Runtime) -> WindowLimit:
    """Codes that match no request this number may answer: at most 5 per number per 15 minutes."""
    return WindowLimit(runtime.redis, runtime.keys, "sms-wrong-code", WRONG_CODES_ALLOWED, WRONG_CODES_WINDOW_S)


def no_match(code: str) -> str:
    # One answer for "no such code" and "not your request": the reply must not tell a guesser a code exists.
    return f"Countersign: no request with code {code} awaits a reply from this number."


def twiml(text: str) -> web.Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'
    return web.Response(text=body, content_type="application/xml")


async def inbound(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await request.post()
    params = {key: str(value) for key, value in form.items()}
    url = runtime.settings.countersign_public_url + PATH
    if not request.app[VALIDATOR].validate(url, params, request.headers.get("X-Twilio-Signature", "")):
        await runtime.service.record("sms_refused", None, Actor(channel="sms", id="unknown"), reason="bad_signature")
        return web.Response(status=403, text="invalid Twilio signature")
    sender = params.get("From", "").strip()
    actor = Actor(channel="sms", id=sender or "unknown")
    # Twilio's signature has no timestamp: a replayed webhook is caught by its MessageSid instead.
    message_sid = params.get("MessageSid", "")[:64]
    if not message_sid or not await runtime.redis.set(
        sms_keys.message_sid(runtime.keys, message_sid), "1", nx=True, ex=REPLAY_WINDOW_S
    ):
        await runtime.service.record("sms_refused", None, actor, reason="replay", message_sid=message_sid)
        return web.Response(text='<?xml version="1.0" encoding="UTF-8"?><Response/>', content_type="application/xml")
    found = REPLY.match(params.get("Body", ""))
    if not found:
        await runtime.service.record("sms_refused", None, actor, reason="unreadable")
        return twiml("Countersign: reply YES <code> or NO <code> <reason>.")
    word, code, reason = found.group(1).lower(), reply_code(found.group(2)), found.group(3).strip() or None
    guesses = wrong_codes(runtime)
    if (retry_after := await guesses.refused(sender)) is not None:
        # Refused before the code is looked at: a right guess now would look no different from a wrong one.
        await runtime.service.record("sms_refused", None, actor, reason="too_many_wrong_codes", code=code)
        return twiml(f"Countersign: too many wrong codes from this number; try again in {-(-retry_after // 60)} min.")
    approval_id = await approval_for_code(runtime.redis, runtime.keys, code)
    if approval_id is None:
        await guesses.hit(sender)
        await runtime.service.record("sms_refused", None, actor, reason="unknown_code", code=code)
        return twiml(no_match(code))
    outcome = "approve" if word in ("yes", "y", "approve") else "reject"
    # Who may decide (and whether a reason is required) is the service's rule, the same as on every channel.
    decider = Decider(channel="sms", id=sender, name=sender, identities=frozenset({sender}))
    try:
        approval = await runtime.service.decide(approval_id, decider, outcome, comment=reason)  # type: ignore[arg-type]
    except NotFound:
        await guesses.hit(sender)
        return twiml(no_match(code))
    except Conflict as exc:
        return twiml(f"Countersign: nothing changed, {exc.message}.")
    except Forbidden as exc:
        # Who may decide is the service's rule. A number the code was texted to is told why (it knows the code
        # anyway); any other number gets the answer for a code that does not exist, and the attempt counts as a
        # wrong code, so guessing teaches nothing.
        if await runtime.redis.sismember(sms_keys.texted(runtime.keys, approval_id), sender):
            await runtime.service.record("sms_refused", approval_id, actor, reason="not_authorised", code=code)
            return twiml(f"Countersign: refused, {exc.message}.")
        await runtime.service.record("sms_refused", approval_id, actor, reason="unknown_number", code=code)
        await guesses.hit(sender)
        return twiml(no_match(code))
    except InvalidInput:
        return twiml(
            f"Countersign: nothing changed, a reason is required to reject this request. Reply NO {code} <reason>."
        )
    await runtime.service.record("sms_reply", approval_id, actor, outcome=outcome, code=code)
    # The action is agent text: one line, hidden characters shown (a control character is not valid XML).
    shown = await runtime.service.for_humans(approval)  # masked values stay masked in the reply
    return twiml(
        f"Countersign: {one_line(approval.action, 80)} is {approval.status.value}"
        + (" (vote recorded)." if approval.status.value == "pending" else changes_sentence(shown) + ".")
    )


def install(app: web.Application, runtime: Runtime) -> None:
    if not twilio_configured(runtime.settings):
        log.info("sms: TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_FROM not set; SMS is off")
        return
    app[RUNTIME] = runtime
    app[VALIDATOR] = RequestValidator(runtime.settings.twilio_auth_token or "")
    app.router.add_post(PATH, inbound)
