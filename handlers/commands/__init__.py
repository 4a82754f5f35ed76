"""Slash commands: `/approvals` (queue, stats, help)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.commands import approvals

COMMAND = "/approvals"


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(approvals.run)
