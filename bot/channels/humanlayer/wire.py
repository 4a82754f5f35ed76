"""The HumanLayer 0.7.x wire shapes we accept (what its SDK posts). Lenient on fields we do not use,
so newer SDKs keep working; strict on the ones we map."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Text


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionCallSpec(_Wire):
    fn: Text = Field(min_length=1, max_length=200)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    channel: dict[str, Any] | None = None
    reject_options: list[dict[str, Any]] | None = None
    state: dict[str, Any] | None = None


class FunctionCall(_Wire):
    run_id: Text = Field(min_length=1, max_length=200)
    call_id: Text = Field(min_length=1, max_length=190)
    spec: FunctionCallSpec


class HumanContactSpec(_Wire):
    msg: Text = Field(min_length=1, max_length=4000)
    subject: Text | None = Field(default=None, max_length=200)
    channel: dict[str, Any] | None = None
    response_options: list[dict[str, Any]] | None = None
    state: dict[str, Any] | None = None


class HumanContact(_Wire):
    run_id: Text = Field(min_length=1, max_length=200)
    call_id: Text = Field(min_length=1, max_length=190)
    spec: HumanContactSpec


class FunctionCallStatus(_Wire):
    approved: bool
    comment: Text | None = Field(default=None, max_length=4000)
    reject_option_name: Text | None = Field(default=None, max_length=200)


class HumanContactStatus(_Wire):
    response: Text = Field(min_length=1, max_length=4000)
    response_option_name: Text | None = Field(default=None, max_length=200)


class Escalation(_Wire):
    escalation_msg: Text = Field(min_length=1, max_length=4000)
    additional_recipients: list[dict[str, Any]] | None = None
    channel: dict[str, Any] | None = None
