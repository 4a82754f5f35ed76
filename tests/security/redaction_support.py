"""Arguments full of credentials, and a check that none of them appears in what a person was sent."""

from __future__ import annotations

import json
from typing import Any

# Each secret sits under a different kind of key, at a different depth, one inside a list.
SECRET_ARGS: dict[str, Any] = {
    "url": "https://api.example.com/v1/charges",
    "headers": {
        "Authorization": "Bearer sk-live-AUTHHEADER1234",
        "Cookie": "session=COOKIEVALUE5678",
        "Accept": "application/json",
    },
    "db": {"host": "db.internal", "Password": "hunter2-DBPASS"},
    "hooks": [{"name": "billing", "webhook_secret": "whsec_HOOKSECRET99"}],
    "stripe_api_key": "sk_live_APIKEY4242",
    "amount": 1200,
}
SECRETS = ("sk-live-AUTHHEADER1234", "COOKIEVALUE5678", "hunter2-DBPASS", "whsec_HOOKSECRET99", "sk_live_APIKEY4242")


def leaked(anything: Any) -> list[str]:
    """The secrets found in `anything` (text, or any JSON-able value), in any common encoding."""
    text = anything if isinstance(anything, str) else json.dumps(anything, default=str)
    return [s for s in SECRETS if s in text or json.dumps(s)[1:-1] in text]
