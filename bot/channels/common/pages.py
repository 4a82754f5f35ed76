"""Small HTML pages for link clicks: a confirm form and a result page (own Jinja2 environment)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_environment = Environment(
    loader=PackageLoader("bot.channels.common", "templates"),
    autoescape=select_autoescape(["html.j2"], default_for_string=True),
    undefined=StrictUndefined,
)
# Pages carry a token in the URL: never cached, never sent on as a referrer, never framed.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def page(template: str, status: int = 200, **values: Any) -> web.Response:
    html = _environment.get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)


def message_page(title: str, message: str, status: int) -> web.Response:
    return page("message.html.j2", status=status, title=title, message=message)
