"""An agent checking a callback with the SDK's `verify_signature` (the same function the server's signer is
paired with): replays, forgeries and malformed headers are refused, never crash it, and the digest is
compared in constant time."""

from __future__ import annotations

import hmac
import time

import pytest

from countersign_sdk import callbacks as sdk_callbacks
from countersign_sdk import verify_signature
from countersign_sdk.callbacks import signature_header

SECRET = "agent-secret-0123456789abcdef"
BODY = b'{"id": "apr_1", "status": "approved"}'


def test_callback_replayed_after_the_window_is_refused() -> None:
    sent = int(time.time()) - 301
    header = signature_header(SECRET, BODY, sent)
    assert verify_signature(SECRET, header, BODY, now=sent + 300)  # inside the window it was fine
    assert not verify_signature(SECRET, header, BODY)  # the same delivery, replayed later
    assert not verify_signature(SECRET, header, BODY, now=sent + 3600)


def test_callback_from_the_future_is_refused() -> None:
    now = int(time.time())
    assert not verify_signature(SECRET, signature_header(SECRET, BODY, now + 3600), BODY, now=now)


def test_callback_with_tampered_body_is_refused() -> None:
    header = signature_header(SECRET, BODY, int(time.time()))
    assert not verify_signature(SECRET, header, BODY.replace(b"approved", b"rejected"))
    assert not verify_signature(SECRET, header, BODY + b" ")


def test_callback_signed_with_another_agents_key_is_refused() -> None:
    header = signature_header("other-agent-secret-0123456789", BODY, int(time.time()))
    assert not verify_signature(SECRET, header, BODY)


def test_callback_timestamp_reset_to_now_with_an_old_digest_is_refused() -> None:
    old = int(time.time()) - 3600
    digest = signature_header(SECRET, BODY, old).partition(",v1=")[2]
    assert not verify_signature(SECRET, f"t={int(time.time())},v1={digest}", BODY)
    assert not verify_signature(SECRET, f"t={old},t={int(time.time())},v1={digest}", BODY)  # two timestamps


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=,v1=",
        "t=abc,v1=00",
        "v1=" + "0" * 64,
        "t=1764045600",
        f"t={int(time.time())},v1=" + "é" * 64,  # non-ASCII: compare_digest on str would raise
        f"t={int(time.time())},v1=\udcff",  # a lone surrogate
        "t=" + "١٧٦٤٠٤٥٦٠٠" + ",v1=" + "0" * 64,  # Arabic-Indic digits int() would accept
        "t=99999999999999999999999,v1=" + "0" * 64,  # absurd timestamp
        f"t={int(time.time())}," + "v1=00," * 200_000,  # a huge header
    ],
)
def test_callback_with_malformed_signature_header_is_refused_without_error(header: str) -> None:
    assert verify_signature(SECRET, header, BODY) is False
    assert verify_signature(SECRET, header.encode("utf-8", "surrogateescape"), BODY) is False


def test_callback_digest_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a, b):  # type: ignore[no-untyped-def]
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sdk_callbacks.hmac, "compare_digest", spy)
    now = int(time.time())
    good = signature_header(SECRET, BODY, now).partition(",v1=")[2]
    wrong = ("0" if good[0] != "0" else "1") + good[1:]
    # The good digest second: every entry is still compared, with compare_digest, on bytes.
    assert verify_signature(SECRET, f"t={now},v1={wrong},v1={good}", BODY, now=now)
    assert [type(a) for pair in compared for a in pair] == [bytes] * 4
    assert len(compared) == 2
