"""Compiled `args_schema` validators, kept by the schema's canonical form: an agent (or our SDK) sends the
same schema with every call, and checking a schema against the meta-schema costs milliseconds while
applying a compiled one costs tens of microseconds. Also says which schemas are cheap enough, provably, to
apply on the event loop."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 512
MAX_SCHEMA_CHARS = 16 * 1024  # larger schemas are compiled per request: the cache holds at most ~8 MiB
# Inline (on the loop) only when schema nodes x args nodes stays under this: without references, regular
# expressions or formats, each schema node is applied to each instance value at most once, so the work is
# bounded by the product. Measured here at <= 0.4 µs per unit with every subschema failing (error messages
# included): <= ~2 ms at the limit; our SDK's schema for ten typed parameters is ~2,900 units, ~70 µs.
MAX_INLINE_WORK = 4_000
# Keywords that search with regular expressions, check formats or jump elsewhere in the schema: a schema
# holding any of them (as a key anywhere, conservatively) always goes to the thread pool.
# `unevaluated*` re-walk their sibling subschemas, so their cost is not bounded by the product either.
_SLOW_KEYS = frozenset(
    {
        "pattern",
        "patternProperties",
        "format",
        "$ref",
        "$dynamicRef",
        "$recursiveRef",
        "propertyNames",
        "contentSchema",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)
_CHARS_PER_NODE = 64  # a long string counts as many nodes: error messages quote the value they reject


@dataclass(frozen=True)
class Compiled:
    validator: Any  # a jsonschema validator for the schema (immutable, safe to share between threads)
    nodes: int  # how many values the schema holds, nested ones included
    inline: bool  # free of _SLOW_KEYS: its cost is bounded by nodes x the args' size


def schema_key(schema: dict[str, Any]) -> bytes | None:
    """A digest of the schema's canonical JSON, or None when it is too large to keep."""
    try:
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):  # NaN or a non-string key: not worth caching
        return None
    if len(text) > MAX_SCHEMA_CHARS:
        return None
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def count_nodes(value: Any, limit: int) -> int:
    """How many values `value` holds (itself included), counting no further than `limit` + 1."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
            count += len(item)  # the keys: additionalProperties and friends look at each
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            count += len(item) // _CHARS_PER_NODE
    return count


def _has_slow_key(schema: Any) -> bool:
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not _SLOW_KEYS.isdisjoint(item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def compiled(validator: Any, schema: dict[str, Any]) -> Compiled:
    nodes = count_nodes(schema, MAX_INLINE_WORK)
    return Compiled(validator, nodes, nodes <= MAX_INLINE_WORK and not _has_slow_key(schema))


def fits_inline(entry: Compiled, args: Any) -> bool:
    if not entry.inline:
        return False
    budget = MAX_INLINE_WORK // max(1, entry.nodes)
    return count_nodes(args, budget) <= budget


class SchemaCache:
    """A bounded LRU map from schema_key to Compiled; shared by the event loop and the checking threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes | None) -> Compiled | None:
        if key is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: bytes | None, entry: Compiled) -> None:
        if key is None:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
