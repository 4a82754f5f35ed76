"""bot/schema_cache.py: canonical keys, the LRU bound, and which schemas may be applied on the event loop."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bot import validation
from bot.schema_cache import MAX_INLINE_WORK, SchemaCache, compiled, count_nodes, fits_inline, schema_key


def test_key_ignores_key_order_but_not_values():
    assert schema_key({"type": "object", "required": ["a"]}) == schema_key({"required": ["a"], "type": "object"})
    assert schema_key({"minimum": 1}) != schema_key({"minimum": 1.5})
    assert schema_key({"const": True}) != schema_key({"const": 1})
    assert schema_key({"enum": ["x" * 20_000]}) is None  # too large to keep


def test_lru_keeps_at_most_its_bound():
    cache = SchemaCache(max_entries=3)
    entry = compiled(object(), {})
    for number in range(5):
        cache.put(bytes([number]), entry)
    assert cache.get(bytes([0])) is None and cache.get(bytes([4])) is entry


def test_slow_keywords_never_run_inline():
    for keyword, value in (
        ("pattern", "^a$"),
        ("format", "email"),
        ("$ref", "#/$defs/x"),
        ("patternProperties", {"a": {}}),
        ("unevaluatedProperties", False),
    ):
        schema = {"type": "object", "properties": {"p": {keyword: value}}}
        assert not fits_inline(compiled(object(), schema), {})


def test_inline_work_is_bounded_even_when_every_branch_fails():
    # The worst case found: anyOf branches each failing on each item (errors are built for all of them).
    branches = [
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5}}, "required": ["a", "b"]}
        for _ in range(4)
    ]
    schema = {"type": "object", "properties": {"x": {"type": "array", "items": {"anyOf": branches}}}}
    entry = compiled(validation._ArgsValidator(schema, registry=validation._NO_REMOTE), schema)
    items = 1
    while fits_inline(entry, {"x": [{"a": 1, "c": "zz"}] * (items + 1)}):
        items += 1
    args = {"x": [{"a": 1, "c": "zz"}] * items}
    assert count_nodes(schema, 10**6) * count_nodes(args, 10**6) <= MAX_INLINE_WORK * 1.2
    started = time.thread_time()
    problems = validation._validate_now(args, schema, False, None, entry)
    assert problems and time.thread_time() - started < 0.01  # measured ~2 ms at the bound


def test_long_strings_count_against_the_inline_bound():
    schema = {"type": "object", "properties": {"s": {"type": "integer"}}}
    entry = compiled(object(), schema)
    assert fits_inline(entry, {"s": "x" * 10})
    assert not fits_inline(entry, {"s": "x" * 100_000})  # the error message would quote it


def _anyof_schema() -> dict[str, Any]:
    branches = [
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5}}, "required": ["a", "b"]}
        for _ in range(20)
    ]
    return {"type": "object", "properties": {"x": {"type": "array", "items": {"anyOf": branches}}}}


async def _checked_in(monkeypatch: pytest.MonkeyPatch, args: dict[str, Any]) -> str:
    """Which thread applied the (cached) schema to `args`."""
    threads = []
    apply = validation._problems

    def recording(validator: Any, instance: Any, schema_only: bool) -> dict[str, str]:
        threads.append(threading.current_thread())
        return apply(validator, instance, schema_only)

    monkeypatch.setattr(validation, "_problems", recording)
    await validation.validate_args(args, _anyof_schema(), schema_only=True)
    return "loop" if threads[-1] is threading.main_thread() else "pool"


async def test_cached_small_schema_runs_inline_but_not_with_huge_args(monkeypatch):
    assert await _checked_in(monkeypatch, {"x": []}) == "pool"  # first sight: compiled in the pool
    assert await _checked_in(monkeypatch, {"x": [{"a": 1}]}) == "loop"  # cached, small: inline
    # Every item failing every branch costs far more than the inline bound: back to the pool.
    assert await _checked_in(monkeypatch, {"x": [{"a": 1, "c": "zz"}] * 500}) == "pool"
