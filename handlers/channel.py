"""The Slack channel's parts, shared by every listener through Bolt's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.service import ApprovalService
from handlers.directory import Directory
from handlers.messages import MessageLocations
from handlers.pacing import ChannelPacer

CONTEXT_KEY = "countersign"


@dataclass
class SlackChannel:
    runtime: Runtime
    client: AsyncWebClient
    messages: MessageLocations
    pacer: ChannelPacer
    directory: Directory

    @property
    def service(self) -> ApprovalService:
        return self.runtime.service


def channel_of(context: Any) -> SlackChannel:
    slack: SlackChannel = context[CONTEXT_KEY]
    return slack
