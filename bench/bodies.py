"""Request bodies the benchmarks send: the issue's example (bare) and what our SDK sends for a decorated
function with ten typed parameters (its `args_schema` derived from the type hints)."""

from __future__ import annotations

from typing import Any, Literal

from countersign_sdk.signature import CallShape

BARE: dict[str, Any] = {
    "action": "delete_user_data",
    "args": {"user_id": "user_123"},
    "context": {
        "why": "GDPR erasure request #881",
        "affected": "1 user row, 14 orders",
        "reversible": False,
        "alternatives": "anonymise instead",
    },
    "risk": {"cost_usd": 0, "data_sensitivity": "pii", "reversible": False},
    "sql": "DELETE FROM users WHERE id = 'user_123'",
    "requested_by": "U024BE7LH",
    "run_id": "run-42",
}


def issue_refund(  # noqa: PLR0913 -- an SDK-shaped tool with 10 arguments is the point
    customer_id: str,
    amount_cents: int,
    currency: Literal["usd", "eur", "gbp"],
    reason: str,
    notify: bool = True,
    ticket: str | None = None,
    items: list[str] | None = None,
    rate: float = 1.0,
    tags: dict[str, str] | None = None,
    attempts: int = 1,
) -> None:
    """A typical tool an agent calls through `@gate`: ten typed parameters."""


def sdk_body() -> dict[str, Any]:
    shape = CallShape(issue_refund)
    call = shape.bind(
        ("cus_123", 1250, "usd", "damaged in transit"),
        {"ticket": "T-881", "items": ["sku-1", "sku-2"], "tags": {"channel": "email"}},
    )
    assert shape.args_schema is not None and len(shape.args_schema["properties"]) == 10
    return {
        "action": "issue_refund",
        "args": call.args,
        "args_schema": shape.args_schema,
        "context": {"why": "customer reported damage"},
        "run_id": "run-42",
    }
