"""Binding arguments by name and calling back with (modified) named arguments, for every parameter kind."""

from __future__ import annotations

import pytest

from countersign_sdk.signature import CallShape


def every_kind(a: int, /, b: str, *rest: int, c: bool = False, **extra: str) -> tuple:
    return a, b, rest, c, extra


def test_binds_every_kind_by_name_and_back():
    shape = CallShape(every_kind)
    bound = shape.bind((1, "x", 7, 8), {"c": True, "tag": "t"})
    assert bound.args == {"a": 1, "b": "x", "rest": [7, 8], "c": True, "extra": {"tag": "t"}}
    values = shape.validate({"a": "2", "b": "y", "rest": [9], "c": False, "extra": {}})
    positional, keywords = shape.call_with(values, bound.receiver)
    assert every_kind(*positional, **keywords) == (2, "y", (9,), False, {})


def test_schema_from_hints():
    schema = CallShape(every_kind).args_schema
    assert schema["required"] == ["a", "b"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["rest"]["items"] == {"type": "integer"}


def test_validation_names_the_problem():
    shape = CallShape(every_kind)
    with pytest.raises(ValueError, match="a: Input should be a valid integer"):
        shape.validate({"a": "not a number", "b": "x"})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        shape.validate({"a": 1, "b": "x", "surprise": 1})


class Service:
    def restart(self, name: str, force: bool = False) -> str:
        return f"{name}:{force}"


def test_methods_keep_their_receiver_out_of_the_args():
    shape = CallShape(Service.restart)
    service = Service()
    bound = shape.bind((service, "db"), {})
    assert bound.args == {"name": "db", "force": False} and bound.receiver == {"self": service}
    assert "self" not in shape.args_schema["properties"]
    positional, keywords = shape.call_with(shape.validate({"name": "cache", "force": True}), bound.receiver)
    assert Service.restart(*positional, **keywords) == "cache:True"


def test_unmodelable_types_fall_back_to_binding():
    class Opaque:
        pass

    def handle(thing: Opaque, n: int = 1) -> None: ...

    shape = CallShape(handle)
    bound = shape.bind((Opaque(),), {})
    assert bound.args["thing"].startswith("<") and bound.args["n"] == 1  # shown, not lost
