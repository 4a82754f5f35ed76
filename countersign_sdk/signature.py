"""From a function's signature: its arguments by name (JSON-ready), a JSON Schema of them from the
type hints, and the way back from (possibly modified) named arguments to a call."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic_core import PydanticUndefined, to_jsonable_python

_SKIPPED = ("self", "cls")  # a bound method's receiver is not an argument a human judges


@dataclass(frozen=True)
class BoundCall:
    args: dict[str, Any]  # JSON-ready, every argument by name (defaults applied)
    receiver: dict[str, Any]  # `self`/`cls`, kept aside to call with again


class CallShape:
    """What the decorator needs from one function's signature; built once per decorated function."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        self.skipped = [p.name for p in params[:1] if p.name in _SKIPPED]
        self.model = self._build_model()
        self.args_schema = self._schema()

    def _build_model(self) -> type[BaseModel] | None:
        try:
            hints = typing.get_type_hints(self.fn, include_extras=True)
        except Exception:  # unresolvable forward references: fall back to the raw annotations
            hints = {}
        fields: dict[str, Any] = {}
        for param in self.signature.parameters.values():
            if param.name in self.skipped:
                continue
            hint = hints.get(param.name, param.annotation)
            hint = Any if hint is inspect.Parameter.empty else hint
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                fields[param.name] = (list[hint], [])  # type: ignore[valid-type]
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                fields[param.name] = (dict[str, hint], {})  # type: ignore[valid-type]
            elif param.default is inspect.Parameter.empty:
                fields[param.name] = (hint, PydanticUndefined)
            else:
                fields[param.name] = (hint, param.default)
        try:
            model: type[BaseModel] = create_model(
                f"{getattr(self.fn, '__name__', 'call')}_args",
                __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                **fields,
            )
            model.model_json_schema()
        except Exception:  # names or types pydantic cannot model: no schema, bind-only checks
            return None
        return model

    def _schema(self) -> dict[str, Any] | None:
        if self.model is None:
            return None
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        return schema

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> BoundCall:
        bound = self.signature.bind(*args, **kwargs)  # a TypeError here is the caller's own mistake
        bound.apply_defaults()
        receiver = {name: bound.arguments[name] for name in self.skipped if name in bound.arguments}
        named = {name: value for name, value in bound.arguments.items() if name not in self.skipped}
        return BoundCall(to_jsonable_python(named, fallback=repr), receiver)

    def validate(self, named: dict[str, Any]) -> dict[str, Any]:
        """Check the approver's arguments against the signature; returns the values to call with.

        Raises ValueError naming the problem."""
        if self.model is not None:
            try:
                parsed = self.model.model_validate(named)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()
                )
                raise ValueError(problems) from None
            return {name: getattr(parsed, name) for name in type(parsed).model_fields}
        try:
            self._split(named, {})
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        return named

    def _split(self, named: dict[str, Any], receiver: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        values = {**receiver, **named}
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        gap = False  # after a missing parameter, the rest must go by name
        for param in self.signature.parameters.values():
            if param.name not in values:
                gap = True
                continue
            value = values[param.name]
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                positional.append(value)
            elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                positional.extend(value)
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                keywords.update(value)
            elif param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and not keywords and not gap:
                positional.append(value)
            else:
                keywords[param.name] = value
        self.signature.bind(*positional, **keywords)  # TypeError if it still does not fit
        return positional, keywords

    def call_with(self, named: dict[str, Any], receiver: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        return self._split(named, receiver)
