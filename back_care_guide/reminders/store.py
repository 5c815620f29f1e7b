"""SQLite storage for daily reminders.

Same style as :mod:`back_care_guide.store.sqlite`: stdlib ``sqlite3`` in autocommit mode
(``isolation_level=None``) on a WAL database, one connection, explicit short transactions,
synchronous calls behind ``async`` methods (each is an indexed statement or a short
transaction on a local file, cheaper than a hop to a worker thread). No transaction is
ever held across an ``await``.

Times are epoch seconds (``float``), as returned by ``time.time()``; ``now`` is always
passed in so tests can use a fake clock. The effective due time of a reminder is
``snoozed_until`` when set, else ``next_fire_utc``. A snooze that reaches past the regular
next occurrence suppresses it (the reminder fires once, at the snooze time, then resumes
its schedule).
"""

from __future__ import annotations

import builtins
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from back_care_guide.reminders.parse import zone_for
from back_care_guide.reminders.schedule import ReminderRule, next_fire, next_fire_after_today

__all__ = ["MAX_REMINDERS_PER_USER", "SCHEMA", "Due", "Reminder", "ReminderStore", "TooManyReminders"]

log = logging.getLogger(__name__)

#: How many reminders one user may keep.
MAX_REMINDERS_PER_USER = 5

SCHEMA = """
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
"""

_COLUMNS = "id, user_id, local_time, weekdays_only, zone, next_fire_utc, snoozed_until, active, created_at"


class TooManyReminders(Exception):
    """The user already has :data:`MAX_REMINDERS_PER_USER` reminders."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Reminder:
    id: int
    user_id: int
    rule: ReminderRule
    next_fire_utc: float
    snoozed_until: float | None
    active: bool
    created_at: float

    @property
    def due_at(self) -> float:
        """The effective next due time (the snooze if set, else the regular occurrence)."""
        return self.snoozed_until if self.snoozed_until is not None else self.next_fire_utc


@dataclass(frozen=True, slots=True)
class Due:
    """A reminder claimed for delivery."""

    reminder_id: int
    user_id: int
    due_at: float  # the effective due time that was reached (epoch seconds)
    late: float  # seconds between due_at and the claim
    snoozed: bool  # True if it was a snoozed repeat rather than the regular occurrence


class ReminderStore:
    """Reminders on a SQLite connection (shared with the project store or opened by :meth:`from_path`).

    The connection must be in autocommit mode (``isolation_level=None``), as
    :class:`back_care_guide.store.sqlite.SqliteStore` opens it.
    """

    def __init__(self, db: sqlite3.Connection, *, max_per_user: int = MAX_REMINDERS_PER_USER) -> None:
        if db.isolation_level is not None:
            raise ValueError("the connection must be opened with isolation_level=None")
        self._db = db
        self._owned = False
        self._max_per_user = max_per_user
        db.executescript(SCHEMA)

    @classmethod
    def from_path(cls, path: Path | str, *, max_per_user: int = MAX_REMINDERS_PER_USER) -> ReminderStore:
        """Open (or create) the database file with the project's pragmas; :meth:`close` closes it."""
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        store = cls(db, max_per_user=max_per_user)
        store._owned = True
        return store

    # ----------------------------------------------------------------- reading

    async def list(self, user_id: int) -> builtins.list[Reminder]:
        """The user's reminders, by local time then "every day" before "weekdays only"."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ?"
            " ORDER BY local_time, weekdays_only, id",
            (user_id,),
        ).fetchall()
        return [_reminder(row) for row in rows]

    async def get(self, reminder_id: int) -> Reminder | None:
        return self._get(reminder_id)

    async def next_due(self) -> float | None:
        """The earliest effective due time of any active reminder, or ``None``."""
        row = self._db.execute(
            "SELECT MIN(due) FROM ("
            " SELECT MIN(next_fire_utc) AS due FROM reminders WHERE active = 1 AND snoozed_until IS NULL"
            " UNION ALL"
            " SELECT MIN(snoozed_until) AS due FROM reminders WHERE active = 1 AND snoozed_until IS NOT NULL)"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # ----------------------------------------------------------------- writing

    async def add(self, user_id: int, rule: ReminderRule, now: float) -> Reminder:
        """Add a reminder, or replace the user's reminder with the same time and days.

        Replacing keeps its id, takes the new zone, clears any snooze and reactivates it.
        Raises :class:`TooManyReminders` when a new one would exceed the per-user cap.
        """
        fire = _next(rule, now)
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM reminders WHERE user_id = ? AND local_time = ? AND weekdays_only = ?",
                (user_id, rule.hhmm, int(rule.weekdays_only)),
            ).fetchone()
            if row is not None:
                reminder_id = int(row[0])
                db.execute(
                    "UPDATE reminders SET zone = ?, next_fire_utc = ?, snoozed_until = NULL, active = 1"
                    " WHERE id = ?",
                    (rule.zone, fire, reminder_id),
                )
            else:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM reminders WHERE user_id = ?", (user_id,)
                ).fetchone()
                if count >= self._max_per_user:
                    raise TooManyReminders(self._max_per_user)
                cursor = db.execute(
                    "INSERT INTO reminders (user_id, local_time, weekdays_only, zone, next_fire_utc,"
                    " snoozed_until, active, created_at) VALUES (?, ?, ?, ?, ?, NULL, 1, ?)",
                    (user_id, rule.hhmm, int(rule.weekdays_only), rule.zone, fire, now),
                )
                assert cursor.lastrowid is not None
                reminder_id = cursor.lastrowid
        return self._require(reminder_id)

    async def update(self, reminder_id: int, rule: ReminderRule, now: float) -> Reminder | None:
        """Change a reminder's rule (next fire recomputed from ``now``, snooze cleared).

        If the user already has another reminder with the new time and days, that one is
        removed (merged into this one) so no duplicate exists. ``None`` if the id is unknown.
        """
        fire = _next(rule, now)
        with self._transaction() as db:
            row = db.execute("SELECT user_id FROM reminders WHERE id = ?", (reminder_id,)).fetchone()
            if row is None:
                return None
            db.execute(
                "DELETE FROM reminders"
                " WHERE user_id = ? AND local_time = ? AND weekdays_only = ? AND id != ?",
                (row[0], rule.hhmm, int(rule.weekdays_only), reminder_id),
            )
            db.execute(
                "UPDATE reminders SET local_time = ?, weekdays_only = ?, zone = ?, next_fire_utc = ?,"
                " snoozed_until = NULL WHERE id = ?",
                (rule.hhmm, int(rule.weekdays_only), rule.zone, fire, reminder_id),
            )
        return self._get(reminder_id)

    async def delete(self, reminder_id: int) -> bool:
        return self._db.execute("DELETE FROM reminders WHERE id = ?", (reminder_id,)).rowcount > 0

    async def delete_all(self, user_id: int) -> int:
        """Remove every reminder of the user; returns how many there were."""
        return self._db.execute("DELETE FROM reminders WHERE user_id = ?", (user_id,)).rowcount

    async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int:
        """Pause or resume all of a user's reminders; returns how many changed.

        Pausing (user blocked the bot, or is locked) clears snoozes. Resuming recomputes the
        next fire strictly after ``now``: occurrences missed while paused are never sent.
        """
        if not active:
            return self._db.execute(
                "UPDATE reminders SET active = 0, snoozed_until = NULL WHERE user_id = ? AND active = 1",
                (user_id,),
            ).rowcount
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ? AND active = 0", (user_id,)
            ).fetchall()
            updates = [(_next(r.rule, now), r.id) for r in map(_reminder, rows)]
            db.executemany(
                "UPDATE reminders SET active = 1, next_fire_utc = ?, snoozed_until = NULL WHERE id = ?",
                updates,
            )
        return len(updates)

    async def set_zone_for_user(self, user_id: int, zone: str, now: float) -> int:
        """Move all of the user's reminders to ``zone`` (same wall times); next fires are
        recomputed from ``now``, snoozes (absolute instants) are kept. Raises ``ValueError``
        for an unknown zone. Returns how many reminders were changed.
        """
        zone_for(zone)
        with self._transaction() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ?", (user_id,)).fetchall()
            updates = []
            for reminder in map(_reminder, rows):
                rule = ReminderRule(reminder.rule.local_time, reminder.rule.weekdays_only, zone)
                updates.append((zone, _next(rule, now), reminder.id))
            db.executemany("UPDATE reminders SET zone = ?, next_fire_utc = ? WHERE id = ?", updates)
        return len(updates)

    async def snooze(self, reminder_id: int, until: float) -> bool:
        """Fire an active reminder again at ``until`` (epoch seconds). False if unknown or paused."""
        return self._db.execute(
            "UPDATE reminders SET snoozed_until = ? WHERE id = ? AND active = 1", (until, reminder_id)
        ).rowcount > 0

    async def skip_today(self, reminder_id: int, now: float) -> Reminder | None:
        """Skip whatever is left of the user's local today: the next fire becomes the first
        occurrence on a later local date; any snooze is cleared. ``None`` if unknown.
        """
        reminder = self._get(reminder_id)
        if reminder is None:
            return None
        fire = next_fire_after_today(reminder.rule, _utc(now)).timestamp()
        self._db.execute(
            "UPDATE reminders SET next_fire_utc = ?, snoozed_until = NULL WHERE id = ?", (fire, reminder_id)
        )
        return self._get(reminder_id)

    async def due(self, now: float, limit: int) -> builtins.list[Due]:
        """Up to ``limit`` active reminders whose effective due time is ≤ ``now``, earliest
        first, WITHOUT claiming them: nothing is advanced, so a crash after this call loses
        nothing. Each must be taken with :meth:`claim` right before it is sent.

        (A reminder whose rule can no longer be read, e.g. a zone key dropped by a tzdata
        update, is deactivated here and not returned.)
        """
        if limit <= 0:
            return []
        dues, broken = self._read_due(now, limit)
        if broken:
            self._db.executemany(
                "UPDATE reminders SET active = 0, snoozed_until = NULL WHERE id = ?", broken)
        return dues

    async def claim(self, dues: Sequence[Due], now: float) -> builtins.list[Due]:
        """Claim reminders returned by :meth:`due`, in one short transaction; returns those
        claimed (as of ``now``: ``late`` is measured to ``now``), in the order given.

        A reminder is claimed only if it is still active and still due at the same time by
        the same route (regular occurrence or snooze) as when it was read; one that was
        changed, snoozed, paused, deleted or claimed since is left alone and not returned.
        Claiming advances it to its next occurrence strictly after ``now`` and clears its
        snooze, so it can never be claimed (and sent) again: delivery is at-most-once, and
        only what is claimed and not yet sent can be lost by a crash.
        """
        if not dues:
            return []
        claimed: builtins.list[Due] = []
        with self._transaction() as db:
            for due in dues:
                row = db.execute(f"SELECT {_COLUMNS} FROM reminders WHERE id = ?",
                                 (due.reminder_id,)).fetchone()
                if row is None:
                    continue
                try:
                    reminder = _reminder(row)
                except ValueError:
                    continue  # deactivated by the next due()
                if not reminder.active or reminder.due_at != due.due_at or due.due_at > now:
                    continue
                if (reminder.snoozed_until is not None) != due.snoozed:
                    continue
                db.execute("UPDATE reminders SET next_fire_utc = ?, snoozed_until = NULL WHERE id = ?",
                           (_next(reminder.rule, now), reminder.id))
                claimed.append(Due(reminder.id, reminder.user_id, due.due_at,
                                   max(0.0, now - due.due_at), due.snoozed))
        return claimed

    async def claim_due(self, now: float, limit: int) -> builtins.list[Due]:
        """:meth:`due` and :meth:`claim` at once: take up to ``limit`` due reminders in ONE
        transaction, each advanced to its next occurrence strictly after ``now`` with its
        snooze cleared; returns what was due, earliest first.

        For tools and tests. The dispatcher does not use it: everything claimed here that is
        not sent yet is lost if the process dies, so it claims one reminder at a time, right
        before sending it. Occurrences missed entirely while the bot was down are collapsed
        into one ``Due`` with a large ``late``; the caller decides whether it is still worth
        sending.
        """
        if limit <= 0:
            return []
        with self._transaction() as db:
            dues, broken = self._read_due(now, limit)
            db.executemany("UPDATE reminders SET active = 0, snoozed_until = NULL WHERE id = ?", broken)
            advances = [(_next(self._require(due.reminder_id).rule, now), due.reminder_id)
                        for due in dues]
            db.executemany(
                "UPDATE reminders SET next_fire_utc = ?, snoozed_until = NULL WHERE id = ?", advances)
        return dues

    async def close(self) -> None:
        """Close the connection if this store opened it (:meth:`from_path`)."""
        if self._owned:
            self._db.close()

    # ----------------------------------------------------------------- helpers

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:  # a failed BEGIN or COMMIT may have ended it
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

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
                reminder = _reminder(row[:-1])
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
        return None if row is None else _reminder(row)

    def _require(self, reminder_id: int) -> Reminder:
        reminder = self._get(reminder_id)
        assert reminder is not None
        return reminder


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _next(rule: ReminderRule, now: float) -> float:
    return next_fire(rule, _utc(now)).timestamp()


def _reminder(row: tuple[Any, ...] | sqlite3.Row) -> Reminder:
    rid, user_id, local_time, weekdays_only, zone, next_fire_utc, snoozed_until, active, created_at = row
    rule = ReminderRule(time.fromisoformat(local_time), bool(weekdays_only), zone)
    return Reminder(
        int(rid), int(user_id), rule, float(next_fire_utc),
        None if snoozed_until is None else float(snoozed_until), bool(active), float(created_at),
    )
