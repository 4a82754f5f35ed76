"""Checks on what an agent sends that can be slow or reach out: JSON depth, control characters, and its
`args_schema` (local references only, one time budget per request, run off the event loop)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import jsonschema._keywords
import jsonschema._utils
import jsonschema.validators
import regex
from jsonschema.exceptions import SchemaError
from referencing import Registry

from bot.errors import InvalidInput
from bot.schema_cache import Compiled, SchemaCache, compiled, fits_inline, schema_key

MAX_DEPTH = 32
VALIDATION_BUDGET_S = 1.0
# Few workers: a flood of schema checks queues here instead of taking every thread the loop lends out.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="args-schema")
_REFERENCE_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
_BASE_KEYS = ("$id", "$schema", "$vocabulary")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


# -- depth and text -----------------------------------------------------------------------------------
def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether containers nest more than `limit` levels (a scalar is 0); iterative, and stops at the first
    container past the limit, so a deep value can neither exhaust the stack nor take long."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False


def check_depth(**values: Any) -> None:
    """Refuse any named value nested deeper than MAX_DEPTH: such records break readers later."""
    for name, value in values.items():
        if value is not None and too_deep(value):
            raise InvalidInput(
                f"{name} is nested more than {MAX_DEPTH} levels deep",
                {name: f"nested more than {MAX_DEPTH} levels deep"},
            )


# Line and paragraph separators and bidirectional controls reorder or split what an approver reads.
_INVISIBLE_CONTROLS = frozenset("\u2028\u2029\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_control(text: str) -> bool:
    """True for C0/C1 controls (tab and newline included), DEL, line/paragraph separators, bidi controls."""
    return any(unicodedata.category(ch) == "Cc" or ch in _INVISIBLE_CONTROLS for ch in text)


def check_plain(**values: str | None) -> None:
    """Refuse control characters in names that appear on one line of a message, an email or an SMS."""
    for name, value in values.items():
        if value is not None and has_control(value):
            raise InvalidInput(
                f"{name} contains a control character",
                {name: "must not contain control characters, line breaks or bidi controls"},
            )


# -- args_schema: local references only -----------------------------------------------------------------
def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                yield key, value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _check_references(schema: dict[str, Any]) -> None:
    """Only `#…` references resolve; anything that could name another document is refused before use.

    A `$id` would move the base URI so that even `#/…` meant another document, and `$dynamicRef` resolves
    through the dynamic scope: both are refused outright. (Conservative: a `const` holding such a key is
    refused too.)"""
    for key, value in _walk(schema):
        if key in _REFERENCE_KEYS and (key != "$ref" or not isinstance(value, str) or not value.startswith("#")):
            raise InvalidInput(
                "args_schema may only use local references",
                {"args_schema": f"{key} must be a local reference such as #/$defs/name"},
            )
        if key in _BASE_KEYS and not (key == "$schema" and value in (_DIALECT, _DIALECT + "#")):
            raise InvalidInput(
                "args_schema may only use local references",
                {"args_schema": f"{key} is not allowed (only local references resolve)"},
            )


# -- args_schema: one time budget ------------------------------------------------------------------------
class _OverBudget(Exception):
    pass


_budget = threading.local()


def _remaining() -> float:
    # CPU time of this thread, the measure `regex` uses for its own timeout: on a busy machine the wall time
    # can be longer, but the event loop runs meanwhile, so only this request waits.
    deadline: float | None = getattr(_budget, "deadline", None)
    if deadline is None:
        return float("inf")
    remaining = deadline - time.thread_time()
    if remaining <= 0:
        raise _OverBudget
    return remaining


class _TimedRe:
    """Stands in for the `re` module inside jsonschema (`pattern`, `patternProperties`,
    `additionalProperties`, `unevaluatedProperties` all search with it): the `regex` engine, which takes a
    timeout and, with concurrent=True, lets go of the GIL while it matches, so the event loop runs on."""

    def search(self, pattern: str, string: str, flags: int = 0) -> Any:
        remaining = _remaining()
        try:
            return regex.search(pattern, string, flags, timeout=min(remaining, VALIDATION_BUDGET_S), concurrent=True)
        except TimeoutError:
            raise _OverBudget from None
        except regex.error as exc:
            raise re.error(str(exc)) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


# jsonschema calls `re.search` from these two modules; every search there now runs under the budget.
jsonschema._keywords.re = _TimedRe()  # type: ignore[attr-defined]
jsonschema._utils.re = _TimedRe()  # type: ignore[attr-defined]


def _timed(keyword: Any) -> Any:
    # Every keyword checks the clock first: nested combinators or $ref chains cannot run on past the budget.
    def check(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Any:
        _remaining()
        return keyword(validator, value, instance, schema)

    return check


def _canonical(value: Any) -> str:
    def norm(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {k: norm(v) for k, v in item.items()}
        if isinstance(item, list):
            return [norm(v) for v in item]
        return item

    return json.dumps(norm(value), sort_keys=True)


def _unique_items(validator: Any, unique: Any, instance: Any, schema: dict[str, Any]) -> Any:
    # jsonschema compares unsortable items pairwise (quadratic); a canonical form makes it linear.
    if unique and validator.is_type(instance, "array"):
        seen: set[str] = set()
        for item in instance:
            text = _canonical(item)
            if text in seen:
                yield jsonschema.ValidationError(f"{instance!r} has non-unique elements"[:200])
                return
            seen.add(text)


_Base = jsonschema.Draft202012Validator
_ArgsValidator = jsonschema.validators.extend(
    _Base, {**{name: _timed(fn) for name, fn in _Base.VALIDATORS.items()}, "uniqueItems": _timed(_unique_items)}
)
_NO_REMOTE = Registry()  # no retrieve function: a reference outside the schema is unresolvable, never fetched
_CACHE = SchemaCache()


def _problems(validator: Any, args: Any, schema_only: bool) -> dict[str, str]:
    """Apply a compiled schema under the current deadline; {field: problem}, empty when valid."""
    problems = sorted(validator.iter_errors(args), key=lambda e: [str(p) for p in e.absolute_path])
    if schema_only:
        return {}
    return {"args" + "".join(f".{p}" for p in problem.absolute_path): _problem_text(problem) for problem in problems}


def _validate_now(
    args: Any, schema: dict[str, Any], schema_only: bool, key: bytes | None = None, entry: Compiled | None = None
) -> dict[str, str]:
    """Runs in a worker thread (or inline, for a cached schema that fits) under one deadline: compiles the
    schema unless `entry` is given (and keeps it under `key`), then applies it."""
    _budget.deadline = time.thread_time() + VALIDATION_BUDGET_S
    try:
        if entry is None:
            _Base.check_schema(schema)
            entry = compiled(_ArgsValidator(schema, registry=_NO_REMOTE), schema)
            _CACHE.put(key, entry)
        return _problems(entry.validator, args, schema_only)
    except SchemaError as exc:
        return {"args_schema": f"not a valid JSON Schema: {exc.message}"[:300]}
    except _OverBudget:
        return {"args_schema": f"takes longer than {VALIDATION_BUDGET_S:g} s to check on these args"}
    except RecursionError:
        return {"args_schema": "refers to itself without end"}
    except Exception as exc:  # an unresolvable $ref, a bad regex: the schema is unusable, not the args
        return {"args_schema": f"cannot be applied ({type(exc).__name__})"}
    finally:
        _budget.deadline = None


_NAMES_KEYS_ONLY = {"required", "additionalProperties", "dependentRequired", "unevaluatedProperties"}


def _problem_text(problem: jsonschema.ValidationError) -> str:
    """What is wrong, without quoting the value: a value may be a secret shown to people only as a mask (an
    approver's modify restores masks before validating), and jsonschema's messages repeat the instance."""
    if problem.validator in _NAMES_KEYS_ONLY:
        return problem.message[:300]  # these name keys, never values
    expected = json.dumps(problem.validator_value, ensure_ascii=False, default=str)
    return f"does not satisfy {problem.validator}: {expected}"[:300]


async def validate_args(args: Any, schema: dict[str, Any] | None, schema_only: bool = False) -> Any:
    """Check args (an object) against an agent's schema within one time budget: off the event loop, unless
    the schema is already compiled and small and simple enough that applying it is provably quick.

    With schema_only, mismatches of the args themselves are ignored: only an unusable schema is an error."""
    if not isinstance(args, dict):
        raise InvalidInput("args must be a JSON object", {"args": "must be a JSON object"})
    if not schema:
        return args
    key = schema_key(schema)
    entry = _CACHE.get(key)
    if entry is None:
        _check_references(schema)  # a cached schema passed this already
    if entry is not None and fits_inline(entry, args):
        problems = _validate_now(args, schema, schema_only, key, entry)
    else:
        problems = await asyncio.get_running_loop().run_in_executor(
            _POOL, _validate_now, args, schema, schema_only, key, entry
        )
    if "args_schema" in problems:
        raise InvalidInput("the request's args_schema cannot be applied", problems)
    if problems:
        raise InvalidInput("args do not match the request's args_schema", problems)
    return args


async def check_args(args: Any, schema: dict[str, Any] | None, schema_only: bool = False) -> Any:
    """Args as filed or modified: bounded depth, then the agent's schema (see validate_args)."""
    check_depth(args=args)
    return await validate_args(args, schema, schema_only)
