"""Maps Countersign errors, bad JSON and oversize bodies to JSON error responses, in one place."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.errors import (
    Conflict,
    CountersignError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    TooSoon,
    Unauthenticated,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The one error → HTTP status map, for every channel that answers over HTTP (JSON API, dashboard pages,
# email-link pages).
HTTP_STATUS: dict[type[CountersignError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    TooSoon: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyRequests: 429,
}
# The title a page shows for each status (the dashboard's and the email links' pages).
PAGE_TITLE = {
    400: "Not accepted",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Already decided",
    429: "Too many requests",
}


def http_status(exc: CountersignError) -> int:
    return next((status for kind, status in HTTP_STATUS.items() if isinstance(exc, kind)), 400)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "fields": fields or {}}}
    if extra:
        body.update(extra)
    return web.json_response(body, status=status, headers=headers)


def fields_of(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    fields: dict[str, str] = {}
    for problem in exc.errors():
        loc = ".".join(str(part) for part in problem["loc"]) or "body"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        fields.setdefault(prefix + loc, message)
    return fields


def _invalid_text_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) that cannot be encoded as UTF-8."""

    def bad(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    if isinstance(value, str):
        return path if bad(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and bad(key):
            return path or "body"
        if (found := _invalid_text_path(item, here)) is not None:
            return found
    return None


async def read_model(request: web.Request, model: type[M]) -> M:
    """Parse the JSON body into `model`; every failure is an InvalidInput naming the fields."""
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
        # A lone surrogate anywhere (args, context) would break hashing and storage later: refuse it now.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        field = _invalid_text_path(body) or "body"
        raise InvalidInput(
            f"{field} is not valid Unicode text (a lone surrogate)", {field: "must be valid Unicode text"}
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", {"body": "malformed JSON"}) from None
    except RecursionError:
        raise InvalidInput("body is nested too deeply", {"body": "nested too deeply"}) from None
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object", {"body": "must be a JSON object"})
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        fields = fields_of(exc)
        raise InvalidInput("invalid fields: " + ", ".join(sorted(fields)), fields) from None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Conflict as exc:
        extra = {"approval": exc.approval.model_dump(mode="json")} if isinstance(exc.approval, BaseModel) else None
        return error_response(409, exc.code, exc.message, exc.fields, extra)
    except TooManyRequests as exc:
        return error_response(429, exc.code, exc.message, exc.fields, headers={"Retry-After": str(exc.retry_after_s)})
    except Unauthenticated as exc:
        return error_response(401, exc.code, exc.message, headers={"WWW-Authenticate": "Bearer"})
    except CountersignError as exc:
        return error_response(http_status(exc), exc.code, exc.message, exc.fields)
    except web.HTTPRequestEntityTooLarge:
        return error_response(
            413, "too_large", f"body over the {request.app._client_max_size // 1024} KiB limit", {"body": "too large"}
        )
    except web.HTTPException as exc:
        if exc.status >= 400 and not (exc.content_type or "").endswith("json"):
            return error_response(
                exc.status,
                exc.reason.lower().replace(" ", "_"),
                exc.reason,
                headers={k: v for k, v in exc.headers.items() if k == "Allow"},
            )
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the server log")
