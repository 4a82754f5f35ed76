"""Prometheus metrics: per-process counters and histograms; the pending gauge is read from Redis."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.models import Approval, RiskLevel

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "countersign_requests_total",
    "Approval requests filed, by risk level and initial status",
    ["level", "status"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "countersign_decisions_total",
    "Final decisions, by channel, outcome and status",
    ["channel", "outcome", "status"],
    registry=REGISTRY,
)
DECISION_LATENCY = Histogram(
    "countersign_decision_latency_seconds",
    "Time from request to final decision",
    ["level"],
    registry=REGISTRY,
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)
DECISION_SECONDS = Histogram(
    "countersign_decision_seconds",
    "Time from request to a decision by a person or a grant, by level and channel",
    ["level", "channel"],
    registry=REGISTRY,
    buckets=(1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
GRANTS_ACTIVE = Gauge("countersign_grants_active", "Standing grants that can still approve requests", registry=REGISTRY)
PENDING = Gauge(
    "countersign_pending_requests", "Pending requests, by risk level (all processes)", ["level"], registry=REGISTRY
)


def observe_created(approval: Approval) -> None:
    REQUESTS.labels(approval.risk_level.value, approval.status.value).inc()


def observe_final(approval: Approval) -> None:
    decision = approval.decision
    if decision is None:
        return
    DECISIONS.labels(decision.by.channel, decision.outcome, approval.status.value).inc()
    if decision.by.channel != "policy" or approval.status.value == "expired":
        latency = (decision.at - approval.created_at).total_seconds()
        DECISION_LATENCY.labels(approval.risk_level.value).observe(max(latency, 0.0))
        if decision.by.channel != "policy":
            DECISION_SECONDS.labels(approval.risk_level.value, decision.by.channel).observe(max(latency, 0.0))


def render(pending_by_level: dict[str, int], grants_active: int | None = None) -> bytes:
    if grants_active is not None:
        GRANTS_ACTIVE.set(grants_active)
    for level in RiskLevel:
        PENDING.labels(level.value).set(max(pending_by_level.get(level.value, 0), 0))
    return generate_latest(REGISTRY)
