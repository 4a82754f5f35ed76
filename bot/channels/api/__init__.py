"""The agents' HTTP API (aiohttp): routes, auth, error mapping and the OpenAPI document."""

from bot.channels.api.app import create_app

__all__ = ["create_app"]
