"""The Python SDK never shows its API key: not in a repr (which tracebacks with locals, debuggers and error
trackers print), not in an error message, not in any log line, even at DEBUG for httpx/httpcore."""

from __future__ import annotations

import logging

import pytest

from countersign_sdk import Countersign, CountersignAPIError, CountersignUnavailable
from countersign_sdk.protocol import RetryPolicy
from tests.support.servers import AGENT_KEY

WRONG_KEY = "wrong-but-secret-key-0123456789abcdef"


def test_sdk_api_key_is_not_in_any_repr() -> None:
    gate = Countersign(url="http://127.0.0.1:9", api_key=AGENT_KEY)
    for shown in (gate, gate.endpoint, gate.aio, gate.plans):
        assert AGENT_KEY not in repr(shown), type(shown).__name__


async def test_sdk_api_key_is_not_logged_or_in_errors(app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gate = Countersign(url=app.url, api_key=AGENT_KEY)
    approval = await gate.aio.request("leak_check", {"x": 1})
    await gate.aio.cancel(approval.id)
    with pytest.raises(CountersignAPIError) as refused:
        await Countersign(url=app.url, api_key=WRONG_KEY).aio.request("leak_check")
    unreachable = Countersign(
        url="http://127.0.0.1:9", api_key=WRONG_KEY, retry=RetryPolicy(attempts=2, base=0.001, cap=0.001)
    )
    with pytest.raises(CountersignUnavailable) as down:
        await unreachable.aio.get("apr_x")
    assert any(r.name.startswith(("httpx", "httpcore")) for r in caplog.records)  # the logs were really captured
    for text in (caplog.text, str(refused.value), repr(refused.value), str(down.value), repr(down.value)):
        assert AGENT_KEY not in text and WRONG_KEY not in text
