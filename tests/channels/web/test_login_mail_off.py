"""/login with mail off says so and tells how to get a link, the same for every address."""

from __future__ import annotations

import re

from tests.support.web import ADA


async def test_login_with_mail_off_tells_how_to_get_a_link(web_app):
    assert not web_app.runtime.settings.smtp_url
    form = await (await web_app.client.get("/login")).text()
    assert "countersign web-login" in form and "SMTP_URL" in form
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answers = []
    for email in (ADA, "nobody@example.com"):
        page = await (await web_app.client.post("/login", data={"csrf": csrf, "email": email})).text()
        assert "countersign web-login" in page and "a link is on its way" not in page
        answers.append(page.replace(email, "ADDRESS"))
    assert answers[0] == answers[1]  # nothing tells who may sign in
