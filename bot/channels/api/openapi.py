"""The OpenAPI 3.1 document, generated from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from bot import __version__
from bot.grants import Grant, GrantCreate
from bot.models import (
    Approval,
    ApprovalCreate,
    ApprovalPage,
    AuditEvent,
    DecisionCreate,
    ErrorResponse,
    OutcomeReport,
    QuestionCreate,
)

_LIMITED = {
    "description": "Over a per-agent limit (COUNTERSIGN_AGENT_RATE or COUNTERSIGN_AGENT_MAX_PENDING)",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _responds(ok: int, name: str | None, *errors: int, description: str = "OK") -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(ok): {
            "description": description,
            **({"content": {"application/json": {"schema": _ref(name)}}} if name else {}),
        }
    }
    for status in errors:
        responses[str(status)] = {
            "description": "Error",
            "content": {"application/json": {"schema": _ref("ErrorResponse")}},
        }
    return responses


def build_openapi() -> dict[str, Any]:
    inputs = (ApprovalCreate, QuestionCreate, DecisionCreate, OutcomeReport, GrantCreate)
    models: Any = [
        (m, "validation" if m in inputs else "serialization")
        for m in (*inputs, Approval, ApprovalPage, AuditEvent, ErrorResponse, Grant)
    ]
    _, schema = models_json_schema(models, ref_template="#/components/schemas/{model}")
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    approval_id = {"parameters": [id_param]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Countersign agent API",
            "version": __version__,
            "description": "Human-in-the-loop approvals for AI agents.",
        },
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/approvals": {
                "post": {
                    "summary": "File an approval request",
                    "requestBody": _json_body("ApprovalCreate"),
                    "responses": {
                        **_responds(201, "Approval", 400, 401, 413, description="Created"),
                        "200": {
                            "description": "Same idempotency_key: the existing approval",
                            "content": {"application/json": {"schema": _ref("Approval")}},
                        },
                        "429": _LIMITED,
                    },
                },
                "get": {
                    "summary": "List approvals, newest first",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": _responds(200, "ApprovalPage", 400, 401),
                },
            },
            "/v1/questions": {
                "post": {
                    "summary": "Ask a person a question (kind `question`, answered in free text)",
                    "requestBody": _json_body("QuestionCreate"),
                    "responses": {
                        **_responds(201, "Approval", 400, 401, 413, description="Created"),
                        "200": {
                            "description": "Same idempotency_key: the existing request",
                            "content": {"application/json": {"schema": _ref("Approval")}},
                        },
                        "429": _LIMITED,
                    },
                },
            },
            "/v1/approvals/{id}": {
                **approval_id,
                "get": {
                    "summary": "Read an approval; with wait=N hold until it leaves pending or N seconds pass",
                    "parameters": [
                        {"name": "wait", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 60}}
                    ],
                    "responses": _responds(200, "Approval", 400, 401, 404),
                },
            },
            "/v1/approvals/{id}/cancel": {
                **approval_id,
                "post": {
                    "summary": "Withdraw a pending request",
                    "responses": _responds(200, "Approval", 401, 404, 409),
                },
            },
            "/v1/approvals/{id}/decision": {
                **approval_id,
                "post": {
                    "summary": "Decide (approver keys only)",
                    "requestBody": _json_body("DecisionCreate"),
                    "responses": _responds(200, "Approval", 400, 401, 403, 404, 409),
                },
            },
            "/v1/approvals/{id}/events": {
                **approval_id,
                "get": {
                    "summary": "The request's audit history",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"type": "array", "items": _ref("AuditEvent")}}},
                        },
                        **{k: v for k, v in _responds(200, None, 401, 404).items() if k != "200"},
                    },
                },
            },
            "/v1/approvals/{id}/outcome": {
                **approval_id,
                "post": {
                    "summary": "Report what happened when the agent ran its approved request (once)",
                    "requestBody": _json_body("OutcomeReport"),
                    "responses": _responds(200, "Approval", 400, 401, 403, 404, 409),
                },
            },
            "/v1/grants": {
                "post": {
                    "summary": "Create a standing grant (approver keys only)",
                    "requestBody": _json_body("GrantCreate"),
                    "responses": _responds(201, "Grant", 400, 401, 403, description="Created"),
                },
                "get": {
                    "summary": "Active grants (all=1: also expired, revoked, used up); approver keys only",
                    "parameters": [{"name": "all", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"type": "array", "items": _ref("Grant")}}},
                        }
                    },
                },
            },
            "/v1/grants/suggestions": {
                "get": {
                    "summary": "Grants history suggests (never applied by themselves); approver keys only",
                    "responses": _responds(200, None, 401, 403),
                }
            },
            "/v1/grants/{id}": {
                **approval_id,
                "get": {"summary": "One grant", "responses": _responds(200, "Grant", 401, 403, 404)},
                "delete": {"summary": "Revoke a grant now", "responses": _responds(200, "Grant", 401, 403, 404)},
            },
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "OK"}}}},
            "/readyz": {
                "get": {
                    "summary": "Readiness (Redis reachable)",
                    "security": [],
                    "responses": {"200": {"description": "OK"}, "503": {"description": "Not ready"}},
                }
            },
            "/metrics": {
                "get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "OK"}}}
            },
        },
    }
