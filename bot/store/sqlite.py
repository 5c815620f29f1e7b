"""SQLite store.

Calls run synchronously on the event loop's thread: each is a single indexed statement
or a short transaction on a local WAL database (tens of microseconds), which is cheaper
than handing every write to a worker thread. A networked database (PostgreSQL) would
implement the same interface with an async driver.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from bot.engine.events import LogSession, Prompt, Timer
from bot.reminders.store import SCHEMA as REMINDERS_SCHEMA
from bot.store.base import PendingTimer
from bot.store.records import Conversation, Profile

SCHEMA_VERSION = 1
SCHEMA = """
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
"""


# Every table that holds something about a user; /delete empties them all.
USER_TABLES = ("conversations", "timers", "sessions", "profiles", "reminders")


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db`` → a path."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("DATABASE_URL must start with sqlite:/// (other databases come later)")
    return Path(database_url[len(prefix):])


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # A small page cache: hot rows are the active users', and the OS caches the file.
        self._db.execute("PRAGMA cache_size=-512")
        self._db.executescript(SCHEMA + REMINDERS_SCHEMA)
        self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    @classmethod
    def from_url(cls, database_url: str) -> SqliteStore:
        return cls(sqlite_path(database_url))

    async def load(self, user_id: int) -> tuple[Conversation | None, Profile | None]:
        db = self._db
        row = db.execute(
            "SELECT state, ctx, prompt FROM conversations WHERE user_id = ?", (user_id,)
        ).fetchone()
        conversation = None
        if row is not None:
            timers = [
                Timer(kind, due, epoch)
                for kind, due, epoch in db.execute(
                    "SELECT kind, due, epoch FROM timers WHERE user_id = ? ORDER BY due", (user_id,)
                )
            ]
            conversation = Conversation(
                user_id, row[0], json.loads(row[1]), timers, _prompt_from_json(row[2])
            )
        prow = db.execute(
            "SELECT language, country, locked_sign, timezone, active, extra FROM profiles"
            " WHERE user_id = ?",
            (user_id,),
        ).fetchone()
        profile = None
        if prow is not None:
            profile = Profile(user_id, prow[0], prow[1], prow[2], prow[3], bool(prow[4]),
                              json.loads(prow[5]))
        return conversation, profile

    async def save(self, conversation: Conversation, profile: Profile) -> None:
        db = self._db
        uid = conversation.user_id
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT INTO conversations (user_id, state, ctx, prompt, updated_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,"
                " prompt = excluded.prompt, updated_at = excluded.updated_at",
                (uid, conversation.state, json.dumps(conversation.ctx),
                 _prompt_to_json(conversation.prompt), time.time()),
            )
            db.execute("DELETE FROM timers WHERE user_id = ?", (uid,))
            if conversation.timers:
                db.executemany(
                    "INSERT INTO timers (user_id, kind, due, epoch) VALUES (?, ?, ?, ?)",
                    [(uid, t.kind, t.due, t.epoch) for t in conversation.timers],
                )
            db.execute(
                "INSERT INTO profiles (user_id, language, country, locked_sign, timezone, active,"
                " extra) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
                " language = excluded.language, country = excluded.country,"
                " locked_sign = excluded.locked_sign, timezone = excluded.timezone,"
                " active = excluded.active, extra = excluded.extra",
                (uid, profile.language, profile.country, profile.locked_sign, profile.timezone,
                 int(profile.active), json.dumps(profile.extra)),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def save_prompt(self, user_id: int, prompt: Prompt | None) -> None:
        self._db.execute(
            "UPDATE conversations SET prompt = ? WHERE user_id = ?",
            (_prompt_to_json(prompt), user_id),
        )

    async def pending_timers(self) -> list[PendingTimer]:
        return [
            PendingTimer(uid, Timer(kind, due, epoch))
            for uid, kind, due, epoch in self._db.execute(
                "SELECT user_id, kind, due, epoch FROM timers ORDER BY due"
            )
        ]

    async def log_session(self, user_id: int, session: LogSession) -> None:
        self._db.execute(
            "INSERT INTO sessions (user_id, started_at, ended_at, outcome, pain_before, pain_after)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, session.started_at, session.ended_at, session.outcome, session.pain_before,
             session.pain_after),
        )

    async def sessions(self, user_id: int, since: float) -> list[LogSession]:
        return [
            LogSession(*row)
            for row in self._db.execute(
                "SELECT started_at, ended_at, outcome, pain_before, pain_after FROM sessions"
                " WHERE user_id = ? AND started_at >= ? ORDER BY started_at",
                (user_id, since),
            )
        ]

    async def delete_user(self, user_id: int) -> None:
        db = self._db
        db.execute("BEGIN")
        for table in USER_TABLES:
            db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
        db.execute("COMMIT")

    @property
    def connection(self) -> sqlite3.Connection:
        """The shared connection, for stores of other features in the same database."""
        return self._db

    async def close(self) -> None:
        self._db.close()


def _prompt_to_json(prompt: Prompt | None) -> str | None:
    if prompt is None:
        return None
    return json.dumps({"ref": prompt.ref, "text": prompt.text, "seq": prompt.seq})


def _prompt_from_json(raw: str | None) -> Prompt | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return Prompt(int(data["ref"]), str(data["text"]), int(data["seq"]))
