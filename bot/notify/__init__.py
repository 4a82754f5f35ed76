"""Outbound delivery to people and agents: email, SMS (Twilio), Slack reminders, signed callbacks."""


class DeliveryError(Exception):
    """The provider did not accept the message (network error, refusal, 5xx): worth retrying."""
