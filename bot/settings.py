"""Settings from environment variables and an optional `.env`; names are fixed by the docs."""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.limits import AgentLimits, Rate
from bot.netpolicy import CallbackAllow

_KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def parse_key_pairs(raw: str, variable: str) -> dict[str, str]:
    """`name:secret,name2:secret2` → {secret: name}. Secrets must be at least 16 characters."""
    pairs: dict[str, str] = {}
    for chunk in raw.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        name, sep, secret = chunk.partition(":")
        if not sep or not _KEY_NAME.fullmatch(name) or not secret:
            raise ConfigError(f"{variable}: expected comma-separated name:secret pairs")
        if len(secret) < 16:
            raise ConfigError(f"{variable}: the secret for {name!r} is shorter than 16 characters")
        if secret in pairs:
            raise ConfigError(f"{variable}: the secret for {name!r} is used twice")
        pairs[secret] = name
    return pairs


def parse_networks(raw: str) -> list[IPv4Network | IPv6Network]:
    """`10.0.0.0/8, 127.0.0.1` → networks; a bad entry raises ValueError naming it."""
    networks = []
    for chunk in raw.split(","):
        if chunk := chunk.strip():
            try:
                networks.append(ip_network(chunk, strict=False))
            except ValueError:
                raise ValueError(f"{chunk!r} is not an IP address or CIDR range") from None
    return networks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    countersign_api_keys: str = ""
    countersign_approver_keys: str = ""
    countersign_policy: Path | None = None
    countersign_public_url: str = "http://127.0.0.1:3000"
    countersign_data_dir: Path = Path(".countersign")
    countersign_redis_prefix: str = Field(default="cs:", min_length=1, max_length=32)
    countersign_retention_days: int = Field(default=30, ge=1, le=3650)
    countersign_secret_key: str | None = None
    countersign_web_users: str = ""
    countersign_log_level: str = "INFO"
    countersign_callback_allow: str = ""
    countersign_agent_rate: str = "120/m"
    countersign_agent_max_pending: int = Field(default=500, ge=0, le=1_000_000)

    # The edge: who may reach the server how often, and how long a connection may dawdle.
    countersign_metrics_token: str | None = None
    countersign_trusted_proxies: str = ""
    countersign_login_per_minute: int = Field(default=10, ge=1, le=100_000)
    countersign_auth_failures_per_minute: int = Field(default=20, ge=1, le=100_000)
    countersign_header_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    countersign_keepalive_timeout_s: float = Field(default=75.0, gt=0, le=86400)
    countersign_max_connections: int = Field(default=1000, ge=1, le=1_000_000)

    @field_validator("countersign_trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def trusted_proxies(self) -> list[IPv4Network | IPv6Network]:
        return parse_networks(self.countersign_trusted_proxies)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    smtp_url: str | None = None
    email_from: str = "countersign@localhost"

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    # Email/SMS due for one person within this many seconds go out as one message (0: one per request).
    countersign_escalation_batch_s: int = Field(60, ge=0, le=3600)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://", "redis+sentinel://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        return value or None

    @field_validator("countersign_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @field_validator("countersign_callback_allow")
    @classmethod
    def _callback_allow(cls, value: str) -> str:
        CallbackAllow.parse(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("countersign_agent_rate")
    @classmethod
    def _agent_rate(cls, value: str) -> str:
        Rate.parse(value)
        return value.strip()

    @field_validator("countersign_public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("countersign_policy")
    @classmethod
    def _policy_exists(cls, value: Path | None) -> Path | None:
        if value is not None and str(value) and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value if value is not None and str(value) else None

    @property
    def agent_keys(self) -> dict[str, str]:
        return parse_key_pairs(self.countersign_api_keys, "COUNTERSIGN_API_KEYS")

    @property
    def approver_keys(self) -> dict[str, str]:
        return parse_key_pairs(self.countersign_approver_keys, "COUNTERSIGN_APPROVER_KEYS")

    @property
    def callback_allow(self) -> CallbackAllow:
        return CallbackAllow.parse(self.countersign_callback_allow)

    @property
    def agent_limits(self) -> AgentLimits:
        return AgentLimits(Rate.parse(self.countersign_agent_rate), self.countersign_agent_max_pending)

    @property
    def retention_seconds(self) -> int:
        return self.countersign_retention_days * 86400

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))


def load_settings(**overrides: object) -> Settings:
    """Load and check every setting, raising ConfigError with one line naming the variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{variable}: {first['msg']}") from None
    agents, approvers = settings.agent_keys, settings.approver_keys
    if shared := set(agents) & set(approvers):
        raise ConfigError(f"COUNTERSIGN_APPROVER_KEYS: secret of {approvers[shared.pop()]!r} is also an agent key")
    return settings
