"""Risk policy: the YAML schema, SQL classification and the pure classifier."""

from bot.policy.engine import Classification, classify
from bot.policy.loader import load_policy, parse_policy
from bot.policy.schema import LevelPolicy, Policy

__all__ = ["Classification", "LevelPolicy", "Policy", "classify", "load_policy", "parse_policy"]
