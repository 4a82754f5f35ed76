"""Keep the docs true by test: policy YAML in docs parses, the settings lists match the settings model, every
CLI flag is documented, unknown COUNTERSIGN_* variables are named."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.envcheck import CLIENT_VARIABLES, unknown_variables
from bot.policy import parse_policy
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
YAML_BLOCK = re.compile(r"```ya?ml\n(.*?)```", re.S)
POLICY_KEYS = re.compile(r"^(default_level|levels|rules|redact):", re.M)


def policy_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in DOCS:
        for number, block in enumerate(YAML_BLOCK.findall(path.read_text())):
            if POLICY_KEYS.search(block):
                blocks.append((f"{path.name}#{number}", block))
    blocks += [(path.name, path.read_text()) for path in sorted((ROOT / "docs").glob("*.yaml"))]
    return blocks


@pytest.mark.parametrize(("where", "text"), policy_blocks(), ids=lambda v: v if "#" in v or v.endswith("yaml") else "")
def test_every_policy_yaml_in_the_docs_passes_policy_check(where: str, text: str) -> None:
    parse_policy(text, where)


def _readme_settings() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return section


def test_readme_settings_table_is_contiguous_and_lists_every_setting() -> None:
    section = _readme_settings()
    lines = section.splitlines()
    rows = [n for n, line in enumerate(lines) if line.startswith("|")]
    assert rows and rows == list(range(rows[0], rows[-1] + 1)), "a blank line splits the Settings table"
    table = "\n".join(lines[rows[0] : rows[-1] + 1])
    for name in sorted(field.upper() for field in Settings.model_fields) + sorted(CLIENT_VARIABLES):
        assert f"`{name}`" in table, f"{name} is missing from the README's Settings table"


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    for name in sorted(field.upper() for field in Settings.model_fields) + sorted(CLIENT_VARIABLES):
        assert re.search(rf"^#?\s*{name}=", text, re.M), f"{name} is missing from .env.example"


def _flags(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, str]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _flags(sub, f"{path} {name}")
        else:
            found += [
                (path, option)
                for option in action.option_strings  # hidden flags are internal
                if option.startswith("--") and option != "--help" and action.help != argparse.SUPPRESS
            ]
    return found


def test_every_cli_flag_appears_in_the_docs() -> None:
    text = "\n".join(path.read_text() for path in DOCS)
    missing = sorted(
        {
            f"{path}: {flag}"
            for path, flag in _flags(build_parser(), "countersign")
            if not re.search(re.escape(flag) + r"(?![\w-])", text)
        }
    )
    assert missing == []


def test_unknown_countersign_variables_are_named() -> None:
    lines = unknown_variables(
        {
            "COUNTERSIGN_PUBLC_URL": "x",
            "COUNTERSIGN_URL": "y",
            "COUNTERSIGN_PORT_X": "1",
            "HOME": "/root",
            "COUNTERSIGN_LOG_LEVEL": "INFO",
        }
    )
    assert lines[0].startswith("COUNTERSIGN_PORT_X is not a Countersign setting")
    assert lines[1] == (
        "COUNTERSIGN_PUBLC_URL is not a Countersign setting and is ignored (did you mean COUNTERSIGN_PUBLIC_URL?)"
    )
    assert len(lines) == 2
