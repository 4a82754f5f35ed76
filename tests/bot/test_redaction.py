"""The pure masking function: which keys it masks, how, and how an approver's untouched masks come back."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.policy import parse_policy
from bot.redaction import MASK_PREFIX, RedactionRules, mask, redact, restore

KEY = b"k" * 32
DEFAULTS = RedactionRules.parse(None)


def test_default_globs_mask_at_any_depth_and_inside_lists_whatever_the_case() -> None:
    args = {
        "AUTHORIZATION": "Bearer x",
        "nested": {"deep": [{"DB_Password": "p", "keep": 1}]},
        "x_api_key": "k",
        "Cookie": "c",
        "refresh_token": {"value": "t"},
        "client_secret": 7,
        "name": "ok",
    }
    masked = redact(args, DEFAULTS, KEY)
    assert masked["name"] == "ok" and masked["nested"]["deep"][0]["keep"] == 1
    for value in (
        masked["AUTHORIZATION"],
        masked["nested"]["deep"][0]["DB_Password"],
        masked["x_api_key"],
        masked["Cookie"],
        masked["refresh_token"],
        masked["client_secret"],
    ):
        assert isinstance(value, str) and value.startswith(MASK_PREFIX)
    assert args["AUTHORIZATION"] == "Bearer x"  # a copy: the stored arguments are untouched


def test_paths_are_anchored_and_replace_the_defaults() -> None:
    rules = RedactionRules.parse(["headers.X-Signature", "items.*.card"])
    args = {
        "headers": {"x-signature": "s", "password": "p"},
        "other": {"headers": {"X-Signature": "o"}},
        "items": [{"a": {"card": "4242"}}],
    }
    masked = redact(args, rules, KEY)
    assert masked["headers"]["x-signature"].startswith(MASK_PREFIX)
    assert masked["headers"]["password"] == "p"  # the policy's list replaces the defaults
    assert masked["other"]["headers"]["X-Signature"] == "o"
    assert masked["items"][0]["a"]["card"].startswith(MASK_PREFIX)
    assert redact(args, RedactionRules.parse([]), KEY) == args


def test_masks_are_keyed_stable_and_idempotent() -> None:
    assert mask("hunter2", KEY) == mask("hunter2", KEY) != mask("hunter2", b"other-key")
    assert mask(mask("hunter2", KEY), KEY) == mask("hunter2", KEY)
    assert redact(redact({"password": "p"}, DEFAULTS, KEY), DEFAULTS, KEY) == redact({"password": "p"}, DEFAULTS, KEY)


def test_restore_puts_back_only_untouched_masks_at_the_same_place() -> None:
    original = {"token": "real", "list": [{"password": "one"}, {"password": "two"}], "n": 1}
    shown = redact(original, DEFAULTS, KEY)
    edited = {**shown, "n": 2, "list": [shown["list"][1], {"password": "typed"}]}
    restored = restore(edited, original, DEFAULTS, KEY)
    assert restored["token"] == "real" and restored["n"] == 2
    # A mask moved to another place is not the value that was there: it stays the mask, never a secret.
    assert restored["list"][0]["password"] == shown["list"][1]["password"]
    assert restored["list"][1]["password"] == "typed"


def test_policy_redact_key_is_validated() -> None:
    assert parse_policy("redact: [headers.Authorization, '*pin*']\n", "<t>").redact == [
        "headers.Authorization",
        "*pin*",
    ]
    assert parse_policy("default_level: low\n", "<t>").redact is None
    for bad in ("redact: ['']\n", "redact: ['a..b']\n", "redact: ['has space']\n", "redact: x\n"):
        with pytest.raises(ConfigError):
            parse_policy(bad, "<t>")
