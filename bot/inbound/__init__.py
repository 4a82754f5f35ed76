"""Inbound channel adapters for people outside Slack: email links and SMS replies."""
