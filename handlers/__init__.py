"""Slack listeners, grouped by kind; `register_listeners(app)` wires them in one place."""
