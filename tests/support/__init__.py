"""Shared test fixtures' building blocks: a real Redis-protocol server, settings, a running app."""
