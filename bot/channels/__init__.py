"""Channel adapters, one package each: they translate a wire format into service calls and back.

`common` holds what several channels share; a channel imports no other channel (tests/test_architecture.py).
"""
