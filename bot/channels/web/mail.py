"""Mails a sign-in link through SMTP_URL, with the same SMTP code as request emails (in a thread)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

from bot.channels.common.smtp import SmtpConfig, send_email


def login_message(sender: str, to: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Your Countersign sign-in link"
    message.set_content(
        "Open this link to sign in to the Countersign dashboard:\n\n"
        f"{link}\n\n"
        "It works once and expires in 15 minutes. If you did not ask for it, ignore this message.\n"
    )
    return message


async def send_login_link(smtp_url: str, sender: str, to: str, link: str) -> None:
    await asyncio.to_thread(send_email, SmtpConfig.parse(smtp_url), login_message(sender, to, link))
