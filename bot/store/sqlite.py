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
from bot.store.records import Conversation, Profile, SafetyEvent, SafetyHold

SCHEMA_VERSION = 2
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

# Schema changes, applied in order to a database of an older version. Each runs once.
MIGRATIONS: dict[int, str] = {
    # 2: safety outcomes that stick (flows/triage.yaml): the hold in force, lasting signs a
    # clinician has cleared, the tier that paused reminders, and the safety history.
    # An emergency lock of version 1 becomes an emergency hold that may be cleared now.
    2: """
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
""",
}


# Every table that holds something about a user; /delete empties them all.
USER_TABLES = ("conversations", "timers", "sessions", "profiles", "reminders", "safety_events")


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
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')")
        self._migrate()

    def _migrate(self) -> None:
        """Bring an older database up to :data:`SCHEMA_VERSION`, one version at a time."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0])
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._db.execute("BEGIN")
            try:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                 (str(target),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

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
            "SELECT language, country, hold, timezone, active, extra, cleared, paused_by"
            " FROM profiles WHERE user_id = ?",
            (user_id,),
        ).fetchone()
        profile = None
        if prow is not None:
            profile = Profile(user_id, prow[0], prow[1], _hold_from_json(prow[2]), prow[3],
                              bool(prow[4]), json.loads(prow[5]), json.loads(prow[6]), prow[7])
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
                "INSERT INTO profiles (user_id, language, country, hold, timezone, active,"
                " extra, cleared, paused_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET"
                " language = excluded.language, country = excluded.country,"
                " hold = excluded.hold, timezone = excluded.timezone,"
                " active = excluded.active, extra = excluded.extra,"
                " cleared = excluded.cleared, paused_by = excluded.paused_by",
                (uid, profile.language, profile.country, _hold_to_json(profile.hold),
                 profile.timezone, int(profile.active), json.dumps(profile.extra),
                 json.dumps(profile.cleared), profile.paused_by),
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

    async def log_safety(self, user_id: int, event: SafetyEvent) -> None:
        self._db.execute(
            "INSERT INTO safety_events (user_id, at, kind, tier, sign, via) VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, event.at, event.kind, event.tier, event.sign, event.via),
        )

    async def safety_events(self, user_id: int) -> list[SafetyEvent]:
        return [
            SafetyEvent(*row)
            for row in self._db.execute(
                "SELECT at, kind, tier, sign, via FROM safety_events WHERE user_id = ?"
                " ORDER BY at",
                (user_id,),
            )
        ]

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


def _hold_to_json(hold: SafetyHold | None) -> str | None:
    if hold is None:
        return None
    return json.dumps({"tier": hold.tier, "sign": hold.sign, "since": hold.since, "day": hold.day})


def _hold_from_json(raw: str | None) -> SafetyHold | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return SafetyHold(str(data["tier"]), str(data["sign"]), float(data["since"]), str(data["day"]))
