"""A real SMTP server (aiosmtpd) on loopback that hands each received message to an asyncio queue."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[Message]) -> None:
        self.loop = loop
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.loop.call_soon_threadsafe(self.inbox.put_nowait, message)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[str, asyncio.Queue[Message]]]:
    """Yields (SMTP_URL, inbox). The server runs in aiosmtpd's own thread."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    port = free_port()
    controller = Controller(_Handler(asyncio.get_running_loop(), inbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()
