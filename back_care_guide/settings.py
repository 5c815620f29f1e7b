"""Configuration from the environment or a ``.env`` file (see ``.env.example``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TOKEN_SHAPE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,80}$")
APP_DIR = "back-care-guide"
DATABASE_FILE = "back_care.db"


def data_dir() -> Path:
    """The per-user data folder: ``$XDG_DATA_HOME/back-care-guide``, or
    ``~/.local/share/back-care-guide`` when XDG_DATA_HOME is unset, empty or relative."""
    return _xdg_folder("XDG_DATA_HOME", Path(".local") / "share")


def cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/back-care-guide``, or
    ``~/.cache/back-care-guide``. What is there can be deleted at any time."""
    return _xdg_folder("XDG_CACHE_HOME", Path(".cache"))


def _xdg_folder(variable: str, in_home: Path) -> Path:
    """The bot's folder under an XDG base directory: ``variable`` when it is set to an
    absolute path, else ``in_home`` under the home folder (the XDG base-directory rules)."""
    base = os.environ.get(variable, "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / in_home
    return root / APP_DIR


def default_database_url() -> str:
    """DATABASE_URL when none is set: a SQLite file in :func:`data_dir`, wherever the bot starts."""
    return f"sqlite:///{data_dir() / DATABASE_FILE}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    database_url: str = Field(default_factory=default_database_url)
    # PostgreSQL only: connections for transactions, and people handled at once (each holds a
    # connection of its own while their messages go out; see docs/postgresql.md).
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    database_holds: int = Field(default=64, ge=1, le=10000)
    flow_time_scale: float = Field(default=1.0, gt=0, le=100)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    idle_evict_seconds: float = Field(default=300.0, gt=0)
    telegram_max_rate: float = Field(default=30.0, ge=0)  # messages/second overall; 0: no limit
    reminder_rate: float = Field(default=25.0, gt=0)  # reminder sends per second, all chats
    # An operator's copy of the data (flow, texts, safety rules, lexicons, emergency numbers);
    # unset: the package's own flows/. Checked at start like `python -m back_care_guide check`.
    flows_dir: Path | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # a /metrics listener of its own
    metrics_listen: str = "127.0.0.1"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("telegram_bot_token", "webhook_url", "webhook_secret", "metrics_port", "flows_dir",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def token_problem(self) -> str | None:
        """Why the token can't be used, in one line that never contains the token."""
        if self.telegram_bot_token is None:
            return "TELEGRAM_BOT_TOKEN is not set (get one from @BotFather and put it in .env)"
        if not TOKEN_SHAPE.match(self.telegram_bot_token.get_secret_value()):
            return "TELEGRAM_BOT_TOKEN is malformed (expected digits, a colon, then the secret part)"
        return None

    def webhook_problem(self) -> str | None:
        if self.webhook_url and self.webhook_secret is None:
            return "WEBHOOK_SECRET is required when WEBHOOK_URL is set"
        if self.webhook_secret is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", self.webhook_secret.get_secret_value()
        ):
            return "WEBHOOK_SECRET may only contain A-Z, a-z, 0-9, _ and - (1-256 characters)"
        return None
