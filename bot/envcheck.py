"""Unknown `COUNTERSIGN_*` variables: a mistyped setting is otherwise ignored without a word."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from bot.settings import Settings

# Read by the clients (SDK, CLI, MCP), not the server: known, but not Settings fields.
CLIENT_VARIABLES = frozenset({"COUNTERSIGN_URL", "COUNTERSIGN_API_KEY"})


def known_variables() -> frozenset[str]:
    return frozenset(name.upper() for name in Settings.model_fields) | CLIENT_VARIABLES


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One line per `COUNTERSIGN_*` variable no setting reads, with the nearest known name when one is close."""
    known = known_variables()
    lines = []
    for name in sorted(n for n in environ if n.upper().startswith("COUNTERSIGN_") and n.upper() not in known):
        near = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.75)
        lines.append(
            f"{name} is not a Countersign setting and is ignored" + (f" (did you mean {near[0]}?)" if near else "")
        )
    return lines
