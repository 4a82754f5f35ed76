"""Sign-in by magic link, sessions, cookies and CSRF, over plain HTTP against the real app."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from asyncio.subprocess import PIPE
from datetime import timedelta
from pathlib import Path

from bot.channels.web.state import WEB
from bot.clock import FrozenClock
from tests.support.servers import make_settings, running_app
from tests.support.smtp import smtp_server
from tests.support.web import ADA, BOB, POLICY, csrf_of, file_request, sign_in, status_of

ROOT = str(Path(__file__).resolve().parents[3])
LINK = re.compile(r"(http://\S+/login/\S+)")


async def test_pages_need_sign_in(web_app):
    for path in ("/", "/history", "/stats", "/requests/apr_x", "/events", "/history/export"):
        response = await web_app.client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"].startswith("/login?next=")


async def test_login_mails_a_link_only_to_approvers_and_web_users(redis_server):
    with smtp_server() as (smtp_url, inbox):
        settings = make_settings(redis_server.url, smtp_url=smtp_url, countersign_web_users=BOB)
        async with running_app(settings, POLICY) as running:
            form = await running.client.get("/login")
            token = csrf_of(await form.text())
            stranger = await running.client.post("/login", data={"csrf": token, "email": "eve@example.com"})
            assert stranger.status == 200
            assert "If that address may sign in" in await stranger.text()
            for address in (ADA.upper(), BOB):
                response = await running.client.post("/login", data={"csrf": token, "email": address})
                assert "If that address may sign in" in await response.text()
            first = await asyncio.wait_for(inbox.get(), 10)
            second = await asyncio.wait_for(inbox.get(), 10)
            assert {first["To"], second["To"]} == {ADA, BOB}  # and nothing went to eve
            assert inbox.empty()
            link = LINK.search(first.get_content())
            assert link
            path = "/" + link.group(1).split("/", 3)[3]
            page = await running.client.get(path)
            assert first["To"] in await page.text()
            signed = await running.client.post(path, data={"csrf": csrf_of(await page.text())}, allow_redirects=False)
            assert signed.status == 303
            cookie = signed.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
            assert (await running.client.get("/", allow_redirects=False)).status == 200
            # The same link works once.
            running.client.session.cookie_jar.clear()
            page = await running.client.get(path)
            again = await running.client.post(path, data={"csrf": csrf_of(await page.text())})
            assert again.status == 400
            assert "already been used" in await again.text()


async def test_login_without_smtp_sends_nothing_and_still_answers(web_app):
    token = csrf_of(await (await web_app.client.get("/login")).text())
    response = await web_app.client.post("/login", data={"csrf": token, "email": ADA})
    assert response.status == 200
    bad = await web_app.client.post("/login", data={"csrf": token, "email": "not an address"})
    assert bad.status == 400


async def test_forged_and_expired_links_are_refused(redis_server):
    clock = FrozenClock()
    async with running_app(make_settings(redis_server.url), POLICY, clock) as running:
        link = await running.client.app[WEB].auth.make_link(ADA, clock.now())
        path = "/" + link.split("/", 3)[3]
        payload, signature = path.rsplit("/", 1)[1].rsplit(".", 1)
        forged = await running.client.get(f"/login/{payload}.{signature[:-2]}AA")
        assert forged.status == 400 and "not valid" in await forged.text()
        junk = await running.client.get("/login/%F0%9F%92%A5")
        assert junk.status == 400
        clock.advance(timedelta(minutes=16))
        expired = await running.client.get(path)
        assert expired.status == 400 and "expired" in await expired.text()


async def test_secure_cookie_when_public_url_is_https(redis_server):
    settings = make_settings(redis_server.url, countersign_public_url="https://approvals.example.com")
    async with running_app(settings, POLICY) as running:
        link = await running.client.app[WEB].auth.make_link(ADA, running.runtime.clock.now())
        assert link.startswith("https://approvals.example.com/login/")
        path = "/" + link.split("/", 3)[3]
        page = await running.client.get(path)
        assert "Secure" in page.headers["Set-Cookie"]
        # The client talks plain HTTP to the test server, so it holds back Secure cookies: send it by hand.
        pre = page.cookies["cs_pre"].value
        signed = await running.client.post(
            path, data={"csrf": csrf_of(await page.text())}, headers={"Cookie": f"cs_pre={pre}"}, allow_redirects=False
        )
        assert signed.status == 303
        assert "Secure" in signed.headers["Set-Cookie"] and "HttpOnly" in signed.headers["Set-Cookie"]


async def test_post_without_csrf_is_refused_and_changes_nothing(web_app):
    approval = await file_request(web_app)
    csrf = await sign_in(web_app, ADA)
    for data in ({"outcome": "approve"}, {"outcome": "approve", "csrf": "wrong" + csrf}):
        response = await web_app.client.post(f"/requests/{approval['id']}/decide", data=data)
        assert response.status == 403
        assert "security token" in await response.text()
    batch = await web_app.client.post("/batch", data={"outcome": "approve", "id": approval["id"]})
    assert batch.status == 403
    assert await status_of(web_app, approval["id"]) == "pending"
    signed_out = await web_app.client.post("/logout", data={})
    assert signed_out.status == 403
    # With the token it goes through.
    ok = await web_app.client.post(
        f"/requests/{approval['id']}/decide", data={"outcome": "approve", "csrf": csrf}, allow_redirects=False
    )
    assert ok.status == 303
    assert await status_of(web_app, approval["id"]) == "approved"


async def test_login_form_needs_its_csrf_token(web_app):
    response = await web_app.client.post("/login", data={"email": ADA})
    assert response.status == 403


async def test_logout_ends_the_session(web_app):
    csrf = await sign_in(web_app, ADA)
    jar = web_app.client.session.cookie_jar
    cookie = jar.filter_cookies(web_app.client.make_url("/"))["cs_session"].value
    out = await web_app.client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    web_app.client.session.cookie_jar.update_cookies({"cs_session": cookie})
    again = await web_app.client.get("/", allow_redirects=False)
    assert again.status == 303  # the old cookie no longer names a session


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=env, cwd=tempfile.mkdtemp(), stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_cli_web_login_prints_a_working_link(redis_server):
    settings = make_settings(redis_server.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNTERSIGN_", "REDIS_"))}
    # The key is no longer shared through Redis: the CLI and the server share COUNTERSIGN_SECRET_KEY.
    env.update(
        REDIS_URL=redis_server.url,
        COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix,
        COUNTERSIGN_SECRET_KEY=settings.countersign_secret_key or "",
        PYTHONPATH=ROOT,
    )
    code, out, _ = await _cli("web-login", "Root@Example.com", "--admin", env=env)
    assert code == 0
    link = out.strip()
    code, _, err = await _cli("web-login", "nobody", env=env)
    assert code == 2 and "not an email address" in err
    async with running_app(settings, POLICY) as running:
        path = "/" + link.split("/", 3)[3]
        page = await running.client.get(path)
        assert "root@example.com" in await page.text() and "(admin)" in await page.text()
        signed = await running.client.post(path, data={"csrf": csrf_of(await page.text())})
        assert signed.status == 200
        assert "root@example.com (admin)" in await signed.text()


async def test_mail_failure_is_logged_and_the_page_still_answers(redis_server, caplog):
    from tests.support.smtp import free_port

    settings = make_settings(redis_server.url, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    async with running_app(settings, POLICY) as running:
        token = csrf_of(await (await running.client.get("/login")).text())
        response = await running.client.post("/login", data={"csrf": token, "email": ADA})
        assert response.status == 200 and "If that address may sign in" in await response.text()
        pending_mail = set(running.client.app[WEB].tasks)
        assert pending_mail
        await asyncio.wait_for(asyncio.gather(*pending_mail), 20)
        assert "could not mail a sign-in link" in caplog.text
        assert "/login/" not in caplog.text  # the link itself is never logged


def test_smtp_url_forms():
    from bot.channels.common.smtp import SmtpConfig
    from bot.errors import ConfigError

    plain = SmtpConfig.parse("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.username, plain.tls, plain.starttls) == (
        "mail.example.com",
        25,
        None,
        False,
        False,
    )
    parsed = SmtpConfig.parse("smtp://u%40x:p%2Fw@mail:587?starttls=1")
    assert (parsed.host, parsed.port, parsed.username, parsed.password, parsed.starttls) == (
        "mail",
        587,
        "u@x",
        "p/w",
        True,
    )
    assert SmtpConfig.parse("smtps://mail").port == 465 and SmtpConfig.parse("smtps://mail").tls
    try:
        SmtpConfig.parse("http://mail")
    except ConfigError as exc:
        assert "SMTP_URL" in exc.message
    else:
        raise AssertionError("http:// accepted")
