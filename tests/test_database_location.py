"""Where the database lives: a per-user data folder by default, DATABASE_URL when set, and the
path said once at start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from back_care_guide.__main__ import LEGACY_DATABASE, _legacy_database
from back_care_guide.settings import Settings, data_dir, default_database_url
from back_care_guide.store.sqlite import sqlite_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no .env, no DATABASE_URL and a home of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_the_default_is_the_xdg_data_folder(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(elsewhere / "xdg"))
    assert data_dir() == elsewhere / "xdg" / "back-care-guide"
    assert Settings().database_url == f"sqlite:///{elsewhere}/xdg/back-care-guide/back_care.db"


@pytest.mark.parametrize("xdg", [None, "", "relative/share"])
def test_without_a_usable_xdg_data_home_it_is_under_the_home(elsewhere: Path, monkeypatch: pytest.MonkeyPatch,
                                                          xdg: str | None) -> None:
    if xdg is not None:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)  # unset, empty and relative are all ignored
    path = sqlite_path(default_database_url())
    assert path == elsewhere / "home" / ".local" / "share" / "back-care-guide" / "back_care.db"
    assert path.is_absolute()  # the same file whatever folder the bot is started from


def test_database_url_overrides_the_default(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///somewhere/else.db")
    assert Settings().database_url == "sqlite:///somewhere/else.db"
    (elsewhere / ".env").write_text("DATABASE_URL=sqlite:////srv/bot.db\n")
    monkeypatch.delenv("DATABASE_URL")
    assert Settings().database_url == "sqlite:////srv/bot.db"


def test_a_database_left_in_data_by_an_earlier_version_is_kept(
        elsewhere: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(elsewhere / "xdg"))
    LEGACY_DATABASE.parent.mkdir()
    LEGACY_DATABASE.write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        settings = _legacy_database(Settings())
    assert sqlite_path(settings.database_url) == elsewhere / "data" / "back_care.db"
    (record,) = caplog.records
    message = record.getMessage()
    assert "earlier version" in message and "xdg/back-care-guide/back_care.db" in message

    caplog.clear()
    monkeypatch.setenv("DATABASE_URL", "sqlite:///chosen.db")  # chosen: the old file is not looked at
    assert _legacy_database(Settings()).database_url == "sqlite:///chosen.db"
    monkeypatch.delenv("DATABASE_URL")
    new = elsewhere / "xdg" / "back-care-guide" / "back_care.db"
    new.parent.mkdir(parents=True)
    new.write_bytes(b"")  # moved (or started afresh): the default is used
    assert _legacy_database(Settings()).database_url == f"sqlite:///{new}"
    assert caplog.records == []


def test_chat_says_where_the_database_is_and_writes_nothing_where_it_starts(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN")}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), TELEGRAM_BOT_TOKEN="", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "back_care_guide", "chat"], cwd=work, env=env, input="",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    database = tmp_path / "xdg" / "back-care-guide" / "back_care.db"
    assert done.stdout.startswith(f"Database: {database}\n")
    assert database.is_file() and list(work.iterdir()) == []
