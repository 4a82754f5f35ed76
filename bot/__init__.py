"""Countersign: the channel-agnostic approval core."""

__version__ = "0.1.0"
