"""The one signed-token helper (bot/channels/common/signed.py) under email links and sign-in links."""

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from bot.channels.common.signed import InvalidToken, SignedTokens
from bot.channels.common.tokens import PURPOSE, BadToken, LinkTokens
from bot.keys import Keys
from bot.runtime import redis_client
from bot.secrets import derive

MASTER = b"m" * 32
NOW = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture
async def redis(redis_server):
    client = redis_client(redis_server.url)
    yield client
    await client.aclose()


async def test_a_token_for_one_purpose_never_verifies_for_another(redis):
    login = SignedTokens(MASTER, "web-login-link", redis, lambda n: f"t:login:{n}")
    email = SignedTokens(MASTER, PURPOSE, redis, lambda n: f"t:email:{n}")
    token = email.issue({"a": "apr_1", "r": "ada@example.com", "o": "approve", "n": "x", "e": 1})
    assert email.read(token)["a"] == "apr_1"
    with pytest.raises(InvalidToken):
        login.read(token)
    with pytest.raises(InvalidToken):
        email.read(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


async def test_a_token_is_used_once(redis):
    tokens = SignedTokens(MASTER, "web-login-link", redis, lambda n: f"t:used:{n}")
    assert await tokens.use("nonce-1", 60) and not await tokens.use("nonce-1", 60)
    assert await tokens.is_used("nonce-1")


async def test_email_links_mailed_before_the_helper_still_work(redis):
    # Signed as LinkTokens did before: itsdangerous' default signer (HMAC-SHA1) on the same derived key.
    older = URLSafeSerializer(derive(MASTER, PURPOSE), salt=PURPOSE)
    claim = {
        "a": "apr_1",
        "r": "ada@example.com",
        "o": "reject",
        "n": "n1",
        "e": int((NOW + timedelta(hours=1)).timestamp()),
    }
    tokens = LinkTokens(MASTER, redis, Keys("t:"))
    assert tokens.read(str(older.dumps(claim)), NOW).outcome == "reject"
    fresh = tokens.issue("apr_1", "ada@example.com", "approve", NOW)
    assert tokens.read(fresh, NOW).outcome == "approve"
    with pytest.raises(BadToken):
        tokens.read(fresh, NOW + timedelta(hours=3))
