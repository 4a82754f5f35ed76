"""What several channels share: delivery errors, the audit's target kinds (and, in modules, plain text,
link tokens, link-click pages)."""


class DeliveryError(Exception):
    """The provider did not accept the message (network error, refusal, 5xx): worth retrying."""


def target_kind(kind: str, target: str) -> str:
    """What sort of address a notification went to, for the audit (`kind` is email, sms or slack)."""
    if kind != "slack":
        return {"email": "email address", "sms": "phone number"}.get(kind, kind)
    return {
        "#": "channel",
        "C": "channel",
        "G": "channel",
        "D": "user",
        "U": "user",
        "W": "user",
        "S": "user group",
        "@": "user group",
    }.get(target[:1], "slack")
