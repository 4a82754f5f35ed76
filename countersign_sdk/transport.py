"""The two drivers of a plan: one over `httpx.Client`, one over `httpx.AsyncClient`. They only
perform the steps the plan yields; every decision about retrying or waiting is the plan's."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from countersign_sdk.protocol import Call, Failure, Pause, Plan, Reply

T = TypeVar("T")


@dataclass(frozen=True)
class Endpoint:
    url: str
    api_key: str = field(repr=False)  # never in a repr, a traceback's locals or a log line
    connect_timeout: float = 10.0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "User-Agent": "countersign-sdk/0.1"}

    def timeout(self, call: Call) -> httpx.Timeout:
        return httpx.Timeout(call.read_timeout, connect=self.connect_timeout)


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building a TLS context (loading the CA bundle) costs far more than a loopback request: do it once.
    return ssl.create_default_context(cafile=_ca_bundle())


def _ca_bundle() -> str | None:
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def _reply(response: httpx.Response) -> Reply:
    try:
        body: Any = response.json()
    except ValueError:
        body = {"error": {"code": "http_error", "message": response.text[:200]}}
    return Reply(response.status_code, body)


def run_sync(plan: Plan[T], endpoint: Endpoint) -> T:
    with httpx.Client(base_url=endpoint.url, headers=endpoint.headers(), verify=_tls()) as client:
        outcome: Reply | Failure | None = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                return done.value
            if isinstance(step, Pause):
                time.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = _reply(
                    client.request(
                        step.method, step.path, json=step.json, params=step.params, timeout=endpoint.timeout(step)
                    )
                )
            except httpx.TransportError as exc:
                outcome = Failure(exc)


async def run_async(plan: Plan[T], endpoint: Endpoint) -> T:
    async with httpx.AsyncClient(base_url=endpoint.url, headers=endpoint.headers(), verify=_tls()) as client:
        outcome: Reply | Failure | None = None
        while True:
            try:
                step = plan.send(outcome)
            except StopIteration as done:
                return done.value
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = _reply(
                    await client.request(
                        step.method, step.path, json=step.json, params=step.params, timeout=endpoint.timeout(step)
                    )
                )
            except httpx.TransportError as exc:
                outcome = Failure(exc)
