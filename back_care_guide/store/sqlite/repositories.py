"""The repositories on SQLite: one class per table, all on the store's one connection.

They run inside the transaction :class:`~back_care_guide.store.sqlite.store.SqliteStore`
opened (see :meth:`SqliteStore.transaction`), so none of them begins or commits; a method
that raises has written nothing (it checks before it writes).
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
import time as clock
from collections.abc import Sequence

from back_care_guide.reminders.parse import zone_for
from back_care_guide.reminders.schedule import ReminderRule, next_fire_after_today
from back_care_guide.store.codec import (
    USER_TABLES,
    hold_from_json,
    hold_to_json,
    next_occurrence,
    prompt_from_json,
    prompt_to_json,
    reminder_from_row,
    utc,
)
from back_care_guide.store.errors import TooManyReminders
from back_care_guide.store.records import (
    Conversation,
    Due,
    LogSession,
    PendingTimer,
    Profile,
    Prompt,
    Reminder,
    SafetyEvent,
    Timer,
)
from back_care_guide.store.repositories import MAX_REMINDERS_PER_USER, room_for, same_slot

log = logging.getLogger(__name__)


class SqliteConversations:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def get(self, user_id: int) -> Conversation | None:
        row = self._db.execute(
            "SELECT state, ctx, prompt FROM conversations WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        return Conversation(user_id, row[0], json.loads(row[1]), [], prompt_from_json(row[2]))

    async def save(self, conversation: Conversation) -> None:
        self._db.execute(
            "INSERT INTO conversations (user_id, state, ctx, prompt, updated_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,"
            " prompt = excluded.prompt, updated_at = excluded.updated_at",
            (conversation.user_id, conversation.state, json.dumps(conversation.ctx),
             prompt_to_json(conversation.prompt), clock.time()),
        )

    async def save_prompt(self, user_id: int, prompt: Prompt | None) -> None:
        self._db.execute("UPDATE conversations SET prompt = ? WHERE user_id = ?",
                         (prompt_to_json(prompt), user_id))


class SqliteTimers:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def for_user(self, user_id: int) -> list[Timer]:
        return [Timer(kind, due, epoch) for kind, due, epoch in self._db.execute(
            "SELECT kind, due, epoch FROM timers WHERE user_id = ? ORDER BY due", (user_id,))]

    async def replace(self, user_id: int, timers: Sequence[Timer]) -> None:
        self._db.execute("DELETE FROM timers WHERE user_id = ?", (user_id,))
        if timers:
            self._db.executemany("INSERT INTO timers (user_id, kind, due, epoch) VALUES (?, ?, ?, ?)",
                                 [(user_id, t.kind, t.due, t.epoch) for t in timers])

    async def pending(self) -> list[PendingTimer]:
        return [PendingTimer(uid, Timer(kind, due, epoch)) for uid, kind, due, epoch in self._db.execute(
            "SELECT user_id, kind, due, epoch FROM timers ORDER BY due")]

    async def due(self, before: float, limit: int) -> list[PendingTimer]:
        return [PendingTimer(uid, Timer(kind, due, epoch)) for uid, kind, due, epoch in self._db.execute(
            "SELECT user_id, kind, due, epoch FROM timers WHERE due < ? ORDER BY due LIMIT ?",
            (before, limit))]


class SqliteProfiles:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def get(self, user_id: int) -> Profile | None:
        row = self._db.execute(
            "SELECT language, country, hold, timezone, active, extra, cleared, paused_by"
            " FROM profiles WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        return Profile(user_id, row[0], row[1], hold_from_json(row[2]), row[3], bool(row[4]),
                       json.loads(row[5]), json.loads(row[6]), row[7])

    async def save(self, profile: Profile) -> None:
        self._db.execute(
            "INSERT INTO profiles (user_id, language, country, hold, timezone, active,"
            " extra, cleared, paused_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET"
            " language = excluded.language, country = excluded.country,"
            " hold = excluded.hold, timezone = excluded.timezone,"
            " active = excluded.active, extra = excluded.extra,"
            " cleared = excluded.cleared, paused_by = excluded.paused_by",
            (profile.user_id, profile.language, profile.country, hold_to_json(profile.hold),
             profile.timezone, int(profile.active), json.dumps(profile.extra),
             json.dumps(profile.cleared), profile.paused_by),
        )


class SqliteSessions:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def add(self, user_id: int, session: LogSession) -> None:
        self._db.execute(
            "INSERT INTO sessions (user_id, started_at, ended_at, outcome, pain_before, pain_after)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, session.started_at, session.ended_at, session.outcome, session.pain_before,
             session.pain_after))

    async def since(self, user_id: int, since: float) -> list[LogSession]:
        return [LogSession(*row) for row in self._db.execute(
            "SELECT started_at, ended_at, outcome, pain_before, pain_after FROM sessions"
            " WHERE user_id = ? AND started_at >= ? ORDER BY started_at", (user_id, since))]


class SqliteSafetyEvents:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def add(self, user_id: int, event: SafetyEvent) -> None:
        self._db.execute(
            "INSERT INTO safety_events (user_id, at, kind, tier, sign, via) VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, event.at, event.kind, event.tier, event.sign, event.via))

    async def for_user(self, user_id: int) -> list[SafetyEvent]:
        return [SafetyEvent(*row) for row in self._db.execute(
            "SELECT at, kind, tier, sign, via FROM safety_events WHERE user_id = ? ORDER BY at",
            (user_id,))]


class SqliteProcessedUpdates:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def add(self, update_id: int, now: float) -> bool:
        return self._db.execute(
            "INSERT INTO processed_updates (update_id, noted_at) VALUES (?, ?)"
            " ON CONFLICT (update_id) DO NOTHING", (update_id, now)).rowcount > 0

    async def forget_before(self, before: float) -> int:
        return self._db.execute("DELETE FROM processed_updates WHERE noted_at < ?", (before,)).rowcount


_COLUMNS = "id, user_id, local_time, weekdays_only, zone, next_fire_utc, snoozed_until, active, created_at"


class SqliteReminders:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    # ----------------------------------------------------------------- reading

    async def list(self, user_id: int) -> builtins.list[Reminder]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ?"
            " ORDER BY local_time, weekdays_only, id", (user_id,)).fetchall()
        return [reminder_from_row(row) for row in rows]

    async def get(self, reminder_id: int) -> Reminder | None:
        return self._get(reminder_id)

    async def next_due(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(due) FROM ("
            " SELECT MIN(next_fire_utc) AS due FROM reminders WHERE active = 1 AND snoozed_until IS NULL"
            " UNION ALL"
            " SELECT MIN(snoozed_until) AS due FROM reminders WHERE active = 1 AND snoozed_until IS NOT NULL)"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # ----------------------------------------------------------------- writing

    async def add(self, user_id: int, rule: ReminderRule, now: float) -> Reminder:
        existing = await self.list(user_id)
        if not room_for(existing, rule):
            raise TooManyReminders(MAX_REMINDERS_PER_USER)
        fire = next_occurrence(rule, now)
        same = same_slot(existing, rule)
        if same is not None:
            self._db.execute("UPDATE reminders SET zone = ?, next_fire_utc = ?, snoozed_until = NULL,"
                             " active = 1 WHERE id = ?", (rule.zone, fire, same.id))
            return self._require(same.id)
        cursor = self._db.execute(
            "INSERT INTO reminders (user_id, local_time, weekdays_only, zone, next_fire_utc,"
            " snoozed_until, active, created_at) VALUES (?, ?, ?, ?, ?, NULL, 1, ?)",
            (user_id, rule.hhmm, int(rule.weekdays_only), rule.zone, fire, now))
        assert cursor.lastrowid is not None
        return self._require(cursor.lastrowid)

    async def update(self, reminder_id: int, rule: ReminderRule, now: float) -> Reminder | None:
        fire = next_occurrence(rule, now)
        db = self._db
        row = db.execute("SELECT user_id FROM reminders WHERE id = ?", (reminder_id,)).fetchone()
        if row is None:
            return None
        db.execute("DELETE FROM reminders"
                   " WHERE user_id = ? AND local_time = ? AND weekdays_only = ? AND id != ?",
                   (row[0], rule.hhmm, int(rule.weekdays_only), reminder_id))
        db.execute("UPDATE reminders SET local_time = ?, weekdays_only = ?, zone = ?, next_fire_utc = ?,"
                   " snoozed_until = NULL WHERE id = ?",
                   (rule.hhmm, int(rule.weekdays_only), rule.zone, fire, reminder_id))
        return self._get(reminder_id)

    async def delete(self, reminder_id: int) -> bool:
        return self._db.execute("DELETE FROM reminders WHERE id = ?", (reminder_id,)).rowcount > 0

    async def delete_all(self, user_id: int) -> int:
        return self._db.execute("DELETE FROM reminders WHERE user_id = ?", (user_id,)).rowcount

    async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int:
        if not active:
            return self._db.execute(
                "UPDATE reminders SET active = 0, snoozed_until = NULL WHERE user_id = ? AND active = 1",
                (user_id,)).rowcount
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ? AND active = 0", (user_id,)).fetchall()
        updates = [(next_occurrence(r.rule, now), r.id) for r in map(reminder_from_row, rows)]
        self._db.executemany(
            "UPDATE reminders SET active = 1, next_fire_utc = ?, snoozed_until = NULL WHERE id = ?", updates)
        return len(updates)

    async def set_zone_for_user(self, user_id: int, zone: str, now: float) -> int:
        zone_for(zone)
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ?", (user_id,)).fetchall()
        updates = []
        for reminder in map(reminder_from_row, rows):
            rule = ReminderRule(reminder.rule.local_time, reminder.rule.weekdays_only, zone)
            updates.append((zone, next_occurrence(rule, now), reminder.id))
        self._db.executemany("UPDATE reminders SET zone = ?, next_fire_utc = ? WHERE id = ?", updates)
        return len(updates)

    async def snooze(self, reminder_id: int, until: float) -> bool:
        return self._db.execute(
            "UPDATE reminders SET snoozed_until = ? WHERE id = ? AND active = 1", (until, reminder_id)
        ).rowcount > 0

    async def skip_today(self, reminder_id: int, now: float) -> Reminder | None:
        reminder = self._get(reminder_id)
        if reminder is None:
            return None
        fire = next_fire_after_today(reminder.rule, utc(now)).timestamp()
        self._db.execute("UPDATE reminders SET next_fire_utc = ?, snoozed_until = NULL WHERE id = ?",
                         (fire, reminder_id))
        return self._get(reminder_id)

    async def due(self, now: float, limit: int) -> builtins.list[Due]:
        if limit <= 0:
            return []
        dues, broken = self._read_due(now, limit)
        self._deactivate(broken)
        return dues

    async def claim(self, dues: Sequence[Due], now: float) -> builtins.list[Due]:
        claimed: builtins.list[Due] = []
        for due in dues:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM reminders WHERE id = ?",
                                   (due.reminder_id,)).fetchone()
            if row is None:
                continue
            try:
                reminder = reminder_from_row(row)
            except ValueError:
                continue  # deactivated by the next due()
            if not reminder.active or reminder.due_at != due.due_at or due.due_at > now:
                continue
            if (reminder.snoozed_until is not None) != due.snoozed:
                continue
            self._advance(reminder, now)
            claimed.append(Due(reminder.id, reminder.user_id, due.due_at,
                               max(0.0, now - due.due_at), due.snoozed))
        return claimed

    async def claim_due(self, now: float, limit: int) -> builtins.list[Due]:
        if limit <= 0:
            return []
        dues, broken = self._read_due(now, limit)
        self._deactivate(broken)
        for due in dues:
            self._advance(self._require(due.reminder_id), now)
        return dues

    # ----------------------------------------------------------------- helpers

    def _advance(self, reminder: Reminder, now: float) -> None:
        """To the next occurrence strictly after ``now``, snooze cleared: claimed."""
        self._db.execute("UPDATE reminders SET next_fire_utc = ?, snoozed_until = NULL WHERE id = ?",
                         (next_occurrence(reminder.rule, now), reminder.id))

    def _deactivate(self, reminder_ids: builtins.list[tuple[int]]) -> None:
        self._db.executemany("UPDATE reminders SET active = 0, snoozed_until = NULL WHERE id = ?",
                             reminder_ids)

    def _read_due(self, now: float, limit: int) -> tuple[builtins.list[Due], builtins.list[tuple[int]]]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS}, next_fire_utc AS due FROM reminders"
            " WHERE active = 1 AND snoozed_until IS NULL AND next_fire_utc <= ?1"
            " UNION ALL"
            f" SELECT {_COLUMNS}, snoozed_until AS due FROM reminders"
            " WHERE active = 1 AND snoozed_until IS NOT NULL AND snoozed_until <= ?1"
            " ORDER BY due, id LIMIT ?2",
            (now, limit),
        ).fetchall()
        dues: builtins.list[Due] = []
        broken: builtins.list[tuple[int]] = []
        for row in rows:
            try:
                reminder = reminder_from_row(row[:-1])
            except ValueError:  # e.g. a zone key dropped by a tzdata update
                log.warning("reminder %s has an unusable rule; deactivated", row[0])
                broken.append((row[0],))
                continue
            due_at = float(row[-1])
            dues.append(Due(reminder.id, reminder.user_id, due_at, max(0.0, now - due_at),
                            reminder.snoozed_until is not None))
        return dues, broken

    def _get(self, reminder_id: int) -> Reminder | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM reminders WHERE id = ?", (reminder_id,)).fetchone()
        return None if row is None else reminder_from_row(row)

    def _require(self, reminder_id: int) -> Reminder:
        reminder = self._get(reminder_id)
        assert reminder is not None
        return reminder


class SqliteTransaction:
    """The repositories on one connection; the store begins and ends the transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.conversations = SqliteConversations(db)
        self.timers = SqliteTimers(db)
        self.profiles = SqliteProfiles(db)
        self.sessions = SqliteSessions(db)
        self.reminders = SqliteReminders(db)
        self.safety_events = SqliteSafetyEvents(db)
        self.processed_updates = SqliteProcessedUpdates(db)

    async def delete_user(self, user_id: int) -> None:
        for table in USER_TABLES:
            self._db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
