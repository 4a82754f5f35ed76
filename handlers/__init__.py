"""Slack listeners, grouped by kind; `register_listeners(app)` wires them in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp


def register_listeners(app: AsyncApp) -> None:
    from handlers import actions, commands, events, views

    actions.register(app)
    views.register(app)
    commands.register(app)
    events.register(app)
