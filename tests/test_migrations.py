"""Schema versions: databases made before numbered migrations move forward with their data, a
new database gets the same schema, and ``python -m back_care_guide migrate`` does it on its own."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from back_care_guide.__main__ import main
from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.store.errors import StoreError
from back_care_guide.store.migrations import Migration, latest
from back_care_guide.store.records import SafetyEvent
from back_care_guide.store.sqlite import SCHEMA_VERSION, SqliteStore
from back_care_guide.store.sqlite.migrations import MIGRATIONS
from back_care_guide.store.state import load_user_state
from tests.test_sqlite_store import one_line

ROOT = Path(__file__).resolve().parents[1]

# The schema exactly as the bot wrote it before migrations were numbered (commit 2b6d9ba,
# store/sqlite.py SCHEMA and reminders/store.py SCHEMA; then MIGRATIONS[2]), kept here as it
# was so that a database of that time can be made without that code.
SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    user_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    ctx TEXT NOT NULL,
    prompt TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    user_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    due REAL NOT NULL,
    epoch INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due);
CREATE TABLE IF NOT EXISTS sessions (
    user_id INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    pain_before INTEGER,
    pain_after INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, started_at);
CREATE TABLE IF NOT EXISTS profiles (
    user_id INTEGER PRIMARY KEY,
    language TEXT,
    country TEXT,
    locked_sign TEXT,
    timezone TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS reminders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    local_time TEXT NOT NULL,
    weekdays_only INTEGER NOT NULL,
    zone TEXT NOT NULL,
    next_fire_utc REAL NOT NULL,
    snoozed_until REAL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    UNIQUE (user_id, local_time, weekdays_only)
);
CREATE INDEX IF NOT EXISTS reminders_next_fire ON reminders (next_fire_utc) WHERE active = 1;
CREATE INDEX IF NOT EXISTS reminders_snoozed ON reminders (snoozed_until)
    WHERE active = 1 AND snoozed_until IS NOT NULL;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
"""
MIGRATION_2 = """
ALTER TABLE profiles ADD COLUMN hold TEXT;
ALTER TABLE profiles ADD COLUMN cleared TEXT NOT NULL DEFAULT '{}';
ALTER TABLE profiles ADD COLUMN paused_by TEXT;
UPDATE profiles SET hold = json_object('tier', 'emergency', 'sign', locked_sign, 'since', 0,
                                       'day', '1970-01-01')
    WHERE locked_sign IS NOT NULL;
CREATE TABLE IF NOT EXISTS safety_events (
    user_id INTEGER NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    tier TEXT NOT NULL,
    sign TEXT NOT NULL,
    via TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS safety_events_user ON safety_events (user_id, at);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""
MONDAY_7 = 1772431200.0  # 2026-03-02 07:00 Europe/Berlin
PROMPT = json.dumps({"ref": 7, "text": "Shall we start?", "seq": 1, "picture": False, "latest": True})


def old_database(path: Path, version: int) -> None:
    """A database at ``version`` (1 or 2) as the bot of that time left it, with a person in it."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    with db:
        db.execute("INSERT INTO conversations VALUES (1, 'welcome', '{\"seq\": 1}', ?, 0)", (PROMPT,))
        db.execute("INSERT INTO timers VALUES (1, 'release', 100.5, 3)")
        db.execute("INSERT INTO sessions VALUES (1, 10, 610, 'completed', 6, 3)")
        db.execute("INSERT INTO profiles (user_id, language, locked_sign, timezone) "
                   "VALUES (1, 'en', 'saddle_numbness', 'UTC')")
        db.execute("INSERT INTO reminders (user_id, local_time, weekdays_only, zone, next_fire_utc,"
                   " created_at) VALUES (1, '08:00', 0, 'Europe/Berlin', ?, ?)",
                   (MONDAY_7 + 3600, MONDAY_7))
    if version == 2:
        db.executescript(MIGRATION_2)
        with db:
            db.execute("INSERT INTO safety_events VALUES (1, 5, 'reported', 'emergency', "
                       "'saddle_numbness', 'button')")
    db.close()


def shape(path: Path) -> dict[str, Any]:
    """Every table's columns and every index's columns: the schema, whatever its SQL text."""
    db = sqlite3.connect(path)
    try:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        result: dict[str, Any] = {}
        for table in sorted(tables):
            columns = db.execute(f"PRAGMA table_info({table})").fetchall()
            indexes = sorted(
                (name, unique, tuple(c[2] for c in db.execute(f"PRAGMA index_info({name})")))
                for _, name, unique, *_ in db.execute(f"PRAGMA index_list({table})"))
            result[table] = (columns, indexes)
        return result
    finally:
        db.close()


def versions(path: Path) -> list[tuple[int, bool]]:
    """(version, whether its time is known) of every row of ``schema_migrations``."""
    db = sqlite3.connect(path)
    try:
        return [(v, at is not None) for v, at in db.execute(
            "SELECT version, applied_at FROM schema_migrations ORDER BY version")]
    finally:
        db.close()


@pytest.mark.parametrize("version", [1, 2])
async def test_an_old_database_migrates_forward_with_its_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "bot.db"
    old_database(path, version)
    store = SqliteStore(path)
    assert [m.version for m in store.migrated] == list(range(version + 1, SCHEMA_VERSION + 1))
    async with store.transaction() as tx:
        conv, profile = await load_user_state(tx, 1)
        sessions = await tx.sessions.since(1, 0)
        (reminder,) = await tx.reminders.list(1)
        events = await tx.safety_events.for_user(1)
        assert await tx.processed_updates.add(123, MONDAY_7)  # the newest table is there
    await store.close()
    assert conv is not None and conv.state == "welcome" and conv.ctx == {"seq": 1}
    assert conv.prompt is not None and conv.prompt.ref == 7
    assert [(t.kind, t.due, t.epoch) for t in conv.timers] == [("release", 100.5, 3)]
    assert profile is not None and profile.language == "en" and profile.timezone == "UTC"
    assert profile.hold is not None and profile.hold.sign == "saddle_numbness"  # the lock of version 1
    assert [(s.outcome, s.pain_before, s.pain_after) for s in sessions] == [("completed", 6, 3)]
    assert reminder.rule == ReminderRule(time(8, 0), False, "Europe/Berlin")
    assert events == ([SafetyEvent(5, "reported", "emergency", "saddle_numbness", "button")]
                      if version == 2 else [])
    # the versions it had are listed (their time unknown), then those applied now
    assert versions(path) == [(v, v > version) for v in range(1, SCHEMA_VERSION + 1)]
    new = SqliteStore(tmp_path / "new.db")
    assert [m.version for m in new.migrated] == list(range(1, SCHEMA_VERSION + 1))
    await new.close()
    assert shape(path) == shape(tmp_path / "new.db")  # the schema of a new database


async def test_a_migrated_database_opens_without_migrating_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    old_database(path, 2)
    await SqliteStore(path).close()
    again = SqliteStore(path)
    assert again.migrated == ()
    await again.close()
    assert len(versions(path)) == SCHEMA_VERSION


async def test_a_failed_migration_leaves_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    old_database(path, 2)
    before = shape(path)
    broken = (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "broken",
                                     ("CREATE TABLE extra (a)", "THIS IS NOT SQL")))
    monkeypatch.setattr("back_care_guide.store.sqlite.store.MIGRATIONS", broken)
    monkeypatch.setattr("back_care_guide.store.sqlite.store.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError) as refused:
        SqliteStore(path)
    one_line(str(refused.value), path)
    assert shape(path) == before  # not even the migrations before the broken one stayed


def test_migrations_are_numbered_in_order() -> None:
    assert latest(MIGRATIONS) == SCHEMA_VERSION == len(MIGRATIONS)
    with pytest.raises(ValueError, match="should be number 2"):
        latest([Migration(1, "a", ()), Migration(3, "b", ())])


# ---------------------------------------------------------------- the command


def test_the_migrate_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bot.db"
    old_database(path, 2)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"applied migration {m.version}: {m.name}" for m in MIGRATIONS[2:]] + [
        f"{path}: migrated to schema version {SCHEMA_VERSION}"]
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == f"{path}: already at schema version {SCHEMA_VERSION}\n"


def test_the_migrate_command_refuses_a_database_in_use(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    running = SqliteStore(path)  # a bot has it open
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{path}")
    try:
        done = subprocess.run([sys.executable, "-m", "back_care_guide", "migrate"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60, check=False)
    finally:
        asyncio.run(running.close())
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: DATABASE_URL=") and "in use by another bot process" in line
