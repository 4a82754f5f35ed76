"""The web dashboard: queue, request, history and stats pages served by the same aiohttp application."""
