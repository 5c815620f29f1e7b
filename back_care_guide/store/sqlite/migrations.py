"""The SQLite schema, as numbered migrations (see :mod:`back_care_guide.store.migrations`).

1 and 2 are the schema the bot had before migrations were numbered (``meta.schema_version``
1 and 2); a database of that time is taken over at its version and migrated on from there.
"""

from __future__ import annotations

from back_care_guide.store.migrations import Migration, latest

MIGRATIONS = (
    Migration(1, "conversations, timers, sessions, profiles, reminders", (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS conversations (
            user_id INTEGER PRIMARY KEY,
            state TEXT NOT NULL,
            ctx TEXT NOT NULL,
            prompt TEXT,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS timers (
            user_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            due REAL NOT NULL,
            epoch INTEGER NOT NULL,
            PRIMARY KEY (user_id, kind)
        )""",
        "CREATE INDEX IF NOT EXISTS timers_due ON timers (due)",
        """CREATE TABLE IF NOT EXISTS sessions (
            user_id INTEGER NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL NOT NULL,
            outcome TEXT NOT NULL,
            pain_before INTEGER,
            pain_after INTEGER
        )""",
        "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, started_at)",
        """CREATE TABLE IF NOT EXISTS profiles (
            user_id INTEGER PRIMARY KEY,
            language TEXT,
            country TEXT,
            locked_sign TEXT,
            timezone TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            extra TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE IF NOT EXISTS reminders (
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
        )""",
        "CREATE INDEX IF NOT EXISTS reminders_next_fire ON reminders (next_fire_utc) WHERE active = 1",
        """CREATE INDEX IF NOT EXISTS reminders_snoozed ON reminders (snoozed_until)
            WHERE active = 1 AND snoozed_until IS NOT NULL""",
    )),
    # Safety outcomes that stick (flows/triage.yaml): the hold in force, lasting signs a
    # clinician has cleared, the tier that paused reminders, and the safety history.
    # An emergency lock of version 1 becomes an emergency hold that may be cleared now.
    Migration(2, "safety holds and the safety history", (
        "ALTER TABLE profiles ADD COLUMN hold TEXT",
        "ALTER TABLE profiles ADD COLUMN cleared TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE profiles ADD COLUMN paused_by TEXT",
        """UPDATE profiles SET hold = json_object('tier', 'emergency', 'sign', locked_sign,
                                                  'since', 0, 'day', '1970-01-01')
            WHERE locked_sign IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS safety_events (
            user_id INTEGER NOT NULL,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            tier TEXT NOT NULL,
            sign TEXT NOT NULL,
            via TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS safety_events_user ON safety_events (user_id, at)",
    )),
    # Telegram's re-deliveries are recognised by any process sharing the database.
    Migration(3, "processed updates", (
        "CREATE TABLE processed_updates (update_id INTEGER PRIMARY KEY, noted_at REAL NOT NULL)",
        "CREATE INDEX processed_updates_noted ON processed_updates (noted_at)",
    )),
)

#: The schema version this code writes.
SCHEMA_VERSION = latest(MIGRATIONS)
