"""A Twilio API emulator on loopback: the Messages resource (with Basic auth) and signed inbound webhooks."""

from __future__ import annotations

import asyncio
import base64
import hmac
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from xml.etree import ElementTree

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.support.loopback import start_on_loopback

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
FROM_NUMBER = "+15550009999"


@dataclass
class Sms:
    to: str
    from_: str
    body: str
    sid: str


@dataclass
class TwilioEmulator:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    url: str = ""
    accepted: list[Sms] = field(default_factory=list)  # answered 201: Twilio took them
    attempts: list[dict[str, str]] = field(default_factory=list)  # every request that reached us
    fail_with: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    hold: bool = False  # never answer: the sender is stuck mid-request (the worker is killed meanwhile)
    released: asyncio.Event = field(default_factory=asyncio.Event)  # set: held requests go on and answer
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    async def messages(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.match_info["sid"] != self.account_sid or not hmac.compare_digest(
            request.headers.get("Authorization", ""), expected
        ):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = {k: str(v) for k, v in (await request.post()).items()}
        async with self._changed:
            self.attempts.append(form)
            self._changed.notify_all()
        if self.hold:
            await self.released.wait()  # until released, or until the server shuts down
        if self.fail_with:
            status = self.fail_with.pop(0)
            return web.json_response({"code": 20500, "message": "Internal error", "status": status}, status=status)
        if not form.get("To") or not form.get("Body"):
            return web.json_response(
                {"code": 21604, "message": "A 'To' and 'Body' are required", "status": 400}, status=400
            )
        if len(form["Body"]) > 1600:
            return web.json_response({"code": 21617, "message": "Body too long", "status": 400}, status=400)
        sms = Sms(form["To"], form.get("From", ""), form["Body"], f"SM{next(self._sids):032x}")
        async with self._changed:
            self.accepted.append(sms)
            self._changed.notify_all()
        return web.json_response(
            {
                "sid": sms.sid,
                "status": "queued",
                "to": sms.to,
                "from": sms.from_,
                "body": sms.body,
                "account_sid": self.account_sid,
            },
            status=201,
        )

    async def wait_for_attempts(self, count: int, seconds: float = 30) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.attempts) >= count), seconds)

    async def wait_for_accepted(self, count: int, seconds: float = 15) -> list[Sms]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.accepted) >= count), seconds)
        return list(self.accepted)

    def signature(self, public_url: str, params: dict[str, str]) -> str:
        """Exactly as Twilio signs a webhook: over the configured URL plus the sorted POST parameters."""
        return str(RequestValidator(self.auth_token).compute_signature(public_url, params))

    async def send_inbound(
        self,
        app_url: str,
        public_base: str,
        from_: str,
        body: str,
        signature: str | None = None,
        message_sid: str | None = None,
    ) -> tuple[int, str]:
        """Play an incoming SMS into the app's webhook; returns (status, the reply text from its TwiML)."""
        params = {
            "MessageSid": message_sid or f"SM{next(self._sids):032x}",
            "AccountSid": self.account_sid,
            "From": from_,
            "To": FROM_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        header = signature if signature is not None else self.signature(public_base + "/sms/inbound", params)
        async with (
            aiohttp.ClientSession() as session,
            session.post(app_url + "/sms/inbound", data=params, headers={"X-Twilio-Signature": header}) as response,
        ):
            text = await response.text()
            if response.status != 200:
                return response.status, text
        message = ElementTree.fromstring(text).find("Message")  # noqa: S314 — our own app's reply
        return response.status, (message.text or "") if message is not None else ""


@asynccontextmanager
async def running_twilio() -> AsyncIterator[TwilioEmulator]:
    emulator = TwilioEmulator()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", emulator.messages)
    runner, emulator.url = await start_on_loopback(app, shutdown_timeout=0.5)
    try:
        yield emulator
    finally:
        await runner.cleanup()
