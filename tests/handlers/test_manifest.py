"""manifest.yml: a Slack app manifest matching what the code registers and calls."""

from __future__ import annotations

from pathlib import Path

import yaml

from handlers.commands import COMMAND
from handlers.install import EVENTS_PATH

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def test_manifest_matches_the_code():
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["_metadata"]["major_version"] == 1
    display = manifest["display_information"]
    assert display["name"] and len(display["description"]) <= 140
    assert 175 <= len(display["long_description"]) <= 4000
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND and command["url"].endswith(EVENTS_PATH)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": settings["event_subscriptions"]["request_url"],
    }
    assert settings["socket_mode_enabled"] is False
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/update/postEphemeral, DMs, /approvals, usergroups.*, users.info (+ email)
    # conversations.members (public and private channels)
    assert scopes == {
        "chat:write",
        "chat:write.public",
        "im:write",
        "commands",
        "usergroups:read",
        "users:read",
        "users:read.email",
        "channels:read",
        "groups:read",
    }
