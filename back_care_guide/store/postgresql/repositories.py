"""The repositories on PostgreSQL: one class per table, all on one transaction's connection.

Round trips are what a PostgreSQL store costs (``bench/store_cost.py``), so :class:`Session`
spends as few as the per-table interface allows:

* **one SELECT to load a user**: :meth:`PgConversations.get` reads the conversation, its
  timers and the profile at once and keeps the last two for the ``timers.for_user`` and
  ``profiles.get`` that follow (:func:`~back_care_guide.store.state.load_user_state`); any
  write drops what was kept, so a read never sees less than the transaction wrote;
* **one statement to save a user**: ``conversations.save``, ``timers.replace`` and
  ``profiles.save`` are held (their values taken at the call) and written together as one
  statement of data-modifying CTEs before anything else runs on the connection, or at commit;
* **BEGIN only before the first write**, and from there on psycopg's pipeline mode: a
  statement whose result nobody reads goes out with the next one whose result is read, or
  with COMMIT at the end.

So the runtime's load is one round trip (the SELECT, no BEGIN or COMMIT) and its save is one
round trip (the one statement, a transaction by itself); an event that also adds a reminder
or a safety event sends BEGIN, those, the state and COMMIT together. Because writes are
queued, an error in one (a constraint) can be raised by a later call or by the end of the
``async with``; the whole transaction is rolled back either way.
"""

from __future__ import annotations

import builtins
import json
import logging
import time as clock
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, LiteralString

from psycopg import AsyncConnection, AsyncCursor, AsyncPipeline, sql
from psycopg.rows import TupleRow

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

Connection = AsyncConnection[TupleRow]
Params = Sequence[Any] | dict[str, Any]
Query = LiteralString | sql.SQL | sql.Composed


# ---------------------------------------------------------------------- held state writes


@dataclass(slots=True)
class _HeldState:
    """A user's conversation, timers and profile as saved, waiting to be written together."""

    conversation: dict[str, Any] | None = None
    timers: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None


# Each part is a data-modifying CTE; parameters are named, so the parts present combine.
# The timers become exactly the saved set: kinds not in it are deleted, the rest inserted or
# updated (deleting all and inserting again would collide with itself in one statement).
_SAVE_PARTS: dict[str, tuple[LiteralString, ...]] = {
    "conversation": ("""conversation AS (
        INSERT INTO conversations (user_id, state, ctx, prompt, updated_at)
        VALUES (%(user_id)s, %(state)s, %(ctx)s::json, %(prompt)s::json, %(updated_at)s)
        ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,
            prompt = excluded.prompt, updated_at = excluded.updated_at)""",),
    "timers": ("""gone AS (
        DELETE FROM timers WHERE user_id = %(user_id)s AND kind <> ALL (%(kinds)s::text[]))""",
               """timer AS (
        INSERT INTO timers (user_id, kind, due, epoch)
        SELECT %(user_id)s, t.kind, t.due, t.epoch
        FROM unnest(%(kinds)s::text[], %(dues)s::float8[], %(epochs)s::bigint[]) AS t (kind, due, epoch)
        ON CONFLICT (user_id, kind) DO UPDATE SET due = excluded.due, epoch = excluded.epoch)"""),
    "profile": ("""profile AS (
        INSERT INTO profiles (user_id, language, country, hold, timezone, active, extra, cleared,
                              paused_by)
        VALUES (%(user_id)s, %(language)s, %(country)s, %(hold)s::json, %(timezone)s, %(active)s,
                %(extra)s::json, %(cleared)s::json, %(paused_by)s)
        ON CONFLICT (user_id) DO UPDATE SET language = excluded.language,
            country = excluded.country, hold = excluded.hold, timezone = excluded.timezone,
            active = excluded.active, extra = excluded.extra, cleared = excluded.cleared,
            paused_by = excluded.paused_by)""",),
}
_save_statements: dict[tuple[str, ...], LiteralString] = {}


def _save_statement(parts: tuple[str, ...]) -> LiteralString:
    """The statement that writes ``parts`` of a user's state (built once per combination)."""
    statement = _save_statements.get(parts)
    if statement is None:
        ctes: list[LiteralString] = []
        for part in parts:
            ctes.extend(_SAVE_PARTS[part])
        statement = "WITH " + ", ".join(ctes) + " SELECT 1"
        _save_statements[parts] = statement
    return statement


# Everything about one user in one statement (a user may have a profile and no conversation).
_LOAD_USER: LiteralString = (
    "SELECT c.state, c.ctx::text, c.prompt::text,"
    " (SELECT coalesce(json_agg(json_build_array(t.kind, t.due, t.epoch) ORDER BY t.due), '[]')"
    "  FROM timers t WHERE t.user_id = k.user_id)::text,"
    " p.user_id IS NOT NULL, p.language, p.country, p.hold::text, p.timezone, p.active,"
    " p.extra::text, p.cleared::text, p.paused_by"
    " FROM (SELECT %s::bigint AS user_id) k"
    " LEFT JOIN conversations c ON c.user_id = k.user_id"
    " LEFT JOIN profiles p ON p.user_id = k.user_id")

_PROFILE_COLUMNS: LiteralString = (
    "language, country, hold::text, timezone, active, extra::text, cleared::text, paused_by")


class Session:
    """One transaction's connection, with the held writes and the kept reads.

    Every statement goes through :meth:`read`, :meth:`write` or :meth:`count`, which write
    what is held first, so statements run in the order the repositories were called.

    BEGIN is sent before the first write or locking read, not at the start, and from there on
    the connection is in pipeline mode (BEGIN goes out with the statement after it, and so on
    until a result is needed, COMMIT last). Reads before BEGIN run each on its own, which
    under READ COMMITTED (set explicitly) is what they would see inside the transaction too:
    there every statement takes a fresh snapshot anyway, and a plain SELECT holds no row
    locks. A transaction that only reads is then one round trip per read and no BEGIN or
    COMMIT at all; one that only saves a user's state is that one statement, a transaction by
    itself (see :meth:`finish`).
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pipeline: AsyncPipeline | None = None
        self._pipeline_mode: AbstractAsyncContextManager[AsyncPipeline] | None = None
        self.begun = False
        self._held: dict[int, _HeldState] = {}
        # what conversations.get read besides the conversation, by user, until the next write
        self._kept_timers: dict[int, list[Timer]] = {}
        self._kept_profiles: dict[int, Profile | None] = {}

    # ------------------------------------------------------------------ statements

    async def begin(self) -> None:
        """Open the transaction if it is not yet (queued: it goes out with the next statement)."""
        if not self.begun:
            self.begun = True
            self._pipeline_mode = self._conn.pipeline()
            self._pipeline = await self._pipeline_mode.__aenter__()
            await self._conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")

    async def end(self, kind: type[BaseException] | None, error: BaseException | None,
                  traceback: TracebackType | None) -> None:
        """Leave pipeline mode: send what is queued and wait for it. The first statement's
        error is raised here, unless the body raised one of its own (psycopg logs it then)."""
        if self._pipeline_mode is not None:
            mode, self._pipeline_mode, self._pipeline = self._pipeline_mode, None, None
            await mode.__aexit__(kind, error, traceback)

    async def read(self, query: Query, params: Params | None = None, *,
                   lock: bool = False) -> AsyncCursor[TupleRow]:
        """Run a query; fetching from the cursor waits for its result. ``lock``: it locks rows
        (``FOR UPDATE``), which last until the commit, so the transaction begins first."""
        await self.flush()
        if lock:
            await self.begin()
        return await self._conn.execute(query, params)

    async def write(self, query: Query, params: Params | None = None) -> AsyncCursor[TupleRow]:
        """Run a statement without waiting for it (its error, if any, comes with a later result)."""
        await self.flush()
        await self.begin()
        self._forget()
        return await self._conn.execute(query, params)

    async def write_many(self, query: Query, rows: Sequence[Params]) -> None:
        if not rows:
            return
        await self.flush()
        await self.begin()
        self._forget()
        async with self._conn.cursor() as cursor:
            await cursor.executemany(query, rows)

    async def count(self, query: Query, params: Params | None = None) -> int:
        """Run a statement and wait for it: how many rows it changed."""
        cursor = await self.write(query, params)
        assert self._pipeline is not None  # write() began the transaction
        await self._pipeline.sync()
        return max(cursor.rowcount, 0)

    # ------------------------------------------------------------------ held writes

    def hold(self, user_id: int, part: str, values: dict[str, Any]) -> None:
        """Write ``part`` of the user's state (``conversation``, ``timers`` or ``profile``)
        with the rest of it, before the next statement or at commit."""
        self._forget()
        held = self._held.setdefault(user_id, _HeldState())
        setattr(held, part, values)

    async def finish(self) -> None:
        """The body ended: write what is held and queue COMMIT (:meth:`end` sends them).

        A transaction that did nothing but hold one user's state sends just that statement,
        with no BEGIN and COMMIT (one statement is a transaction of its own), and waits for it.
        """
        if not self.begun and len(self._held) == 1:
            await self.flush(begin=False)
            return
        await self.flush()
        if self.begun:
            await self._conn.execute("COMMIT")

    async def flush(self, *, begin: bool = True) -> None:
        """Write the held state, one statement per user (nothing waits for its result)."""
        if not self._held:
            return
        if begin:
            await self.begin()
        held, self._held = self._held, {}
        for user_id, state in held.items():
            parts = tuple(name for name in ("conversation", "timers", "profile")
                          if getattr(state, name) is not None)
            params: dict[str, Any] = {"user_id": user_id}
            for name in parts:
                params.update(getattr(state, name))
            await self._conn.execute(_save_statement(parts), params)

    # ------------------------------------------------------------------ kept reads

    def keep(self, user_id: int, timers: list[Timer], profile: Profile | None) -> None:
        self._kept_timers[user_id] = timers
        self._kept_profiles[user_id] = profile

    def kept_timers(self, user_id: int) -> list[Timer] | None:
        """The timers read with the conversation, once (``None``: read them)."""
        return self._kept_timers.pop(user_id, None)

    def kept_profile(self, user_id: int) -> tuple[Profile | None] | None:
        """The profile read with the conversation, once, as a 1-tuple (``None``: read it)."""
        if user_id not in self._kept_profiles:
            return None
        return (self._kept_profiles.pop(user_id),)

    def _forget(self) -> None:
        self._kept_timers.clear()
        self._kept_profiles.clear()


# ---------------------------------------------------------------------- repositories


class PgConversations:
    def __init__(self, session: Session) -> None:
        self._s = session

    async def get(self, user_id: int) -> Conversation | None:
        row = await (await self._s.read(_LOAD_USER, (user_id,))).fetchone()
        assert row is not None  # the query always returns its one row
        (state, ctx, prompt, timers, has_profile, language, country, hold, timezone, active,
         extra, cleared, paused_by) = row
        profile = (_profile(user_id, (language, country, hold, timezone, active, extra, cleared,
                                      paused_by)) if has_profile else None)
        self._s.keep(user_id, [Timer(kind, float(due), int(epoch))
                               for kind, due, epoch in json.loads(timers)], profile)
        if state is None:
            return None
        return Conversation(user_id, state, json.loads(ctx), [], prompt_from_json(prompt))

    async def save(self, conversation: Conversation) -> None:
        self._s.hold(conversation.user_id, "conversation", {
            "state": conversation.state, "ctx": json.dumps(conversation.ctx),
            "prompt": prompt_to_json(conversation.prompt), "updated_at": clock.time()})

    async def save_prompt(self, user_id: int, prompt: Prompt | None) -> None:
        await self._s.write("UPDATE conversations SET prompt = %s::json WHERE user_id = %s",
                            (prompt_to_json(prompt), user_id))


class PgTimers:
    def __init__(self, session: Session) -> None:
        self._s = session

    async def for_user(self, user_id: int) -> list[Timer]:
        kept = self._s.kept_timers(user_id)
        if kept is not None:
            return kept
        rows = await (await self._s.read(
            "SELECT kind, due, epoch FROM timers WHERE user_id = %s ORDER BY due", (user_id,))
        ).fetchall()
        return [Timer(kind, due, epoch) for kind, due, epoch in rows]

    async def replace(self, user_id: int, timers: Sequence[Timer]) -> None:
        self._s.hold(user_id, "timers", {"kinds": [t.kind for t in timers],
                                         "dues": [t.due for t in timers],
                                         "epochs": [t.epoch for t in timers]})

    async def pending(self) -> list[PendingTimer]:
        rows = await (await self._s.read(
            "SELECT user_id, kind, due, epoch FROM timers ORDER BY due")).fetchall()
        return [PendingTimer(uid, Timer(kind, due, epoch)) for uid, kind, due, epoch in rows]

    async def due(self, before: float, limit: int) -> list[PendingTimer]:
        rows = await (await self._s.read(
            "SELECT user_id, kind, due, epoch FROM timers WHERE due < %s ORDER BY due LIMIT %s",
            (before, limit))).fetchall()
        return [PendingTimer(uid, Timer(kind, due, epoch)) for uid, kind, due, epoch in rows]


class PgProfiles:
    def __init__(self, session: Session) -> None:
        self._s = session

    async def get(self, user_id: int) -> Profile | None:
        kept = self._s.kept_profile(user_id)
        if kept is not None:
            return kept[0]
        row = await (await self._s.read(
            "SELECT " + _PROFILE_COLUMNS + " FROM profiles WHERE user_id = %s", (user_id,))
        ).fetchone()
        return None if row is None else _profile(user_id, row)

    async def save(self, profile: Profile) -> None:
        self._s.hold(profile.user_id, "profile", {
            "language": profile.language, "country": profile.country,
            "hold": hold_to_json(profile.hold), "timezone": profile.timezone,
            "active": profile.active, "extra": json.dumps(profile.extra),
            "cleared": json.dumps(profile.cleared), "paused_by": profile.paused_by})


class PgSessions:
    def __init__(self, session: Session) -> None:
        self._s = session

    async def add(self, user_id: int, session: LogSession) -> None:
        await self._s.write(
            "INSERT INTO sessions (user_id, started_at, ended_at, outcome, pain_before, pain_after)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (user_id, session.started_at, session.ended_at, session.outcome, session.pain_before,
             session.pain_after))

    async def since(self, user_id: int, since: float) -> list[LogSession]:
        rows = await (await self._s.read(
            "SELECT started_at, ended_at, outcome, pain_before, pain_after FROM sessions"
            " WHERE user_id = %s AND started_at >= %s ORDER BY started_at, id", (user_id, since))
        ).fetchall()
        return [LogSession(*row) for row in rows]


class PgSafetyEvents:
    def __init__(self, session: Session) -> None:
        self._s = session

    async def add(self, user_id: int, event: SafetyEvent) -> None:
        await self._s.write(
            "INSERT INTO safety_events (user_id, at, kind, tier, sign, via)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (user_id, event.at, event.kind, event.tier, event.sign, event.via))

    async def for_user(self, user_id: int) -> list[SafetyEvent]:
        rows = await (await self._s.read(
            "SELECT at, kind, tier, sign, via FROM safety_events WHERE user_id = %s"
            " ORDER BY at, id", (user_id,))).fetchall()
        return [SafetyEvent(*row) for row in rows]


class PgProcessedUpdates:
    def __init__(self, session: Session) -> None:
        self._s = session

    async def add(self, update_id: int, now: float) -> bool:
        return await self._s.count(
            "INSERT INTO processed_updates (update_id, noted_at) VALUES (%s, %s)"
            " ON CONFLICT (update_id) DO NOTHING", (update_id, now)) > 0

    async def forget_before(self, before: float) -> int:
        return await self._s.count("DELETE FROM processed_updates WHERE noted_at < %s", (before,))


_COLUMNS: LiteralString = (
    "id, user_id, local_time, weekdays_only, zone, next_fire_utc, snoozed_until, active, created_at")
_DUE: LiteralString = "coalesce(snoozed_until, next_fire_utc)"  # the effective due time (indexed)


class PgReminders:
    """Reminders. Claims lock the rows they advance (``FOR UPDATE``), so two replicas claiming
    at once never both take the same occurrence: the second waits, then sees it advanced."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # ----------------------------------------------------------------- reading

    async def list(self, user_id: int) -> builtins.list[Reminder]:
        return await self._select("WHERE user_id = %s ORDER BY local_time, weekdays_only, id",
                                  (user_id,))

    async def get(self, reminder_id: int) -> Reminder | None:
        found = await self._select("WHERE id = %s", (reminder_id,))
        return found[0] if found else None

    async def next_due(self) -> float | None:
        row = await (await self._s.read(
            "SELECT min(" + _DUE + ") FROM reminders WHERE active")).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # ----------------------------------------------------------------- writing

    async def add(self, user_id: int, rule: ReminderRule, now: float) -> Reminder:
        existing = await self.list(user_id)
        if not room_for(existing, rule):
            raise TooManyReminders(MAX_REMINDERS_PER_USER)
        fire = next_occurrence(rule, now)
        same = same_slot(existing, rule)
        if same is not None:
            found = await self._select(
                "WHERE id = %s", (rule.zone, fire, same.id),
                update="UPDATE reminders SET zone = %s, next_fire_utc = %s, snoozed_until = NULL,"
                       " active = TRUE")
        else:
            found = await self._returning(
                "INSERT INTO reminders (user_id, local_time, weekdays_only, zone, next_fire_utc,"
                " snoozed_until, active, created_at) VALUES (%s, %s, %s, %s, %s, NULL, TRUE, %s)",
                (user_id, rule.hhmm, rule.weekdays_only, rule.zone, fire, now))
        return found[0]

    async def update(self, reminder_id: int, rule: ReminderRule, now: float) -> Reminder | None:
        fire = next_occurrence(rule, now)
        current = await self.get(reminder_id)
        if current is None:
            return None
        await self._s.write(
            "DELETE FROM reminders WHERE user_id = %s AND local_time = %s AND weekdays_only = %s"
            " AND id <> %s", (current.user_id, rule.hhmm, rule.weekdays_only, reminder_id))
        found = await self._select(
            "WHERE id = %s", (rule.hhmm, rule.weekdays_only, rule.zone, fire, reminder_id),
            update="UPDATE reminders SET local_time = %s, weekdays_only = %s, zone = %s,"
                   " next_fire_utc = %s, snoozed_until = NULL")
        return found[0] if found else None

    async def delete(self, reminder_id: int) -> bool:
        return await self._s.count("DELETE FROM reminders WHERE id = %s", (reminder_id,)) > 0

    async def delete_all(self, user_id: int) -> int:
        return await self._s.count("DELETE FROM reminders WHERE user_id = %s", (user_id,))

    async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int:
        if not active:
            return await self._s.count(
                "UPDATE reminders SET active = FALSE, snoozed_until = NULL"
                " WHERE user_id = %s AND active", (user_id,))
        paused = await self._select("WHERE user_id = %s AND NOT active FOR UPDATE", (user_id,),
                                    lock=True)
        await self._s.write_many(
            "UPDATE reminders SET active = TRUE, next_fire_utc = %s, snoozed_until = NULL"
            " WHERE id = %s", [(next_occurrence(r.rule, now), r.id) for r in paused])
        return len(paused)

    async def set_zone_for_user(self, user_id: int, zone: str, now: float) -> int:
        zone_for(zone)
        reminders = await self._select("WHERE user_id = %s FOR UPDATE", (user_id,), lock=True)
        await self._s.write_many(
            "UPDATE reminders SET zone = %s, next_fire_utc = %s WHERE id = %s",
            [(zone, next_occurrence(ReminderRule(r.rule.local_time, r.rule.weekdays_only, zone), now), r.id)
             for r in reminders])
        return len(reminders)

    async def snooze(self, reminder_id: int, until: float) -> bool:
        return await self._s.count(
            "UPDATE reminders SET snoozed_until = %s WHERE id = %s AND active",
            (until, reminder_id)) > 0

    async def skip_today(self, reminder_id: int, now: float) -> Reminder | None:
        found = await self._select("WHERE id = %s FOR UPDATE", (reminder_id,), lock=True)
        if not found:
            return None
        fire = next_fire_after_today(found[0].rule, utc(now)).timestamp()
        found = await self._select(
            "WHERE id = %s", (fire, reminder_id),
            update="UPDATE reminders SET next_fire_utc = %s, snoozed_until = NULL")
        return found[0] if found else None

    async def due(self, now: float, limit: int) -> builtins.list[Due]:
        return await self._due(now, limit, claim=False)

    async def claim(self, dues: Sequence[Due], now: float) -> builtins.list[Due]:
        if not dues:
            return []
        rows = await (await self._s.read(
            "SELECT " + _COLUMNS + " FROM reminders WHERE id = ANY(%s) FOR UPDATE",
            ([due.reminder_id for due in dues],), lock=True)).fetchall()
        current: dict[int, Reminder] = {}
        for row in rows:
            try:
                current[int(row[0])] = reminder_from_row(row)
            except ValueError:
                continue  # deactivated by the next due()
        claimed: builtins.list[Due] = []
        advanced: builtins.list[Reminder] = []
        for due in dues:
            reminder = current.get(due.reminder_id)
            if reminder is None or not reminder.active or reminder.due_at != due.due_at:
                continue
            if due.due_at > now or (reminder.snoozed_until is not None) != due.snoozed:
                continue
            claimed.append(Due(reminder.id, reminder.user_id, due.due_at,
                               max(0.0, now - due.due_at), due.snoozed))
            advanced.append(current.pop(due.reminder_id))  # listed twice: claimed once
        await self._advance(advanced, now)
        return claimed

    async def claim_due(self, now: float, limit: int) -> builtins.list[Due]:
        return await self._due(now, limit, claim=True)

    # ----------------------------------------------------------------- helpers

    async def _due(self, now: float, limit: int, *, claim: bool) -> builtins.list[Due]:
        """Due reminders, earliest first; unreadable rules deactivated. ``claim``: lock (skipping
        rows another transaction holds) and advance them."""
        if limit <= 0:
            return []
        lock: LiteralString = " FOR UPDATE SKIP LOCKED" if claim else ""
        rows = await (await self._s.read(
            "SELECT " + _COLUMNS + ", " + _DUE + " AS due FROM reminders"
            " WHERE active AND " + _DUE + " <= %s ORDER BY due, id LIMIT %s" + lock,
            (now, limit), lock=claim)).fetchall()
        dues: builtins.list[Due] = []
        usable: builtins.list[Reminder] = []
        broken: builtins.list[tuple[int]] = []
        for row in rows:
            try:
                reminder = reminder_from_row(row[:-1])
            except ValueError:  # e.g. a zone key dropped by a tzdata update
                log.warning("reminder %s has an unusable rule; deactivated", row[0])
                broken.append((row[0],))
                continue
            due_at = float(row[-1])
            usable.append(reminder)
            dues.append(Due(reminder.id, reminder.user_id, due_at, max(0.0, now - due_at),
                            reminder.snoozed_until is not None))
        await self._s.write_many(
            "UPDATE reminders SET active = FALSE, snoozed_until = NULL WHERE id = %s", broken)
        if claim:
            await self._advance(usable, now)
        return dues

    async def _advance(self, reminders: Sequence[Reminder], now: float) -> None:
        """To the next occurrence strictly after ``now``, snooze cleared: claimed."""
        await self._s.write_many(
            "UPDATE reminders SET next_fire_utc = %s, snoozed_until = NULL WHERE id = %s",
            [(next_occurrence(r.rule, now), r.id) for r in reminders])

    async def _select(self, where: LiteralString, params: Params, *, lock: bool = False,
                      update: LiteralString | None = None) -> builtins.list[Reminder]:
        """``SELECT ... FROM reminders <where>`` (``lock``: it ends in ``FOR UPDATE``), or with
        ``update``, ``<update> <where> RETURNING ...``: the changed rows as they are now, in
        the same round trip."""
        if update is None:
            cursor = await self._s.read("SELECT " + _COLUMNS + " FROM reminders " + where, params,
                                        lock=lock)
            return [reminder_from_row(row) for row in await cursor.fetchall()]
        return await self._returning(update + " " + where, params)

    async def _returning(self, statement: LiteralString, params: Params) -> builtins.list[Reminder]:
        cursor = await self._s.write(statement + " RETURNING " + _COLUMNS, params)
        return [reminder_from_row(row) for row in await cursor.fetchall()]


class PgTransaction:
    """The repositories on one transaction's :class:`Session`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conversations = PgConversations(session)
        self.timers = PgTimers(session)
        self.profiles = PgProfiles(session)
        self.sessions = PgSessions(session)
        self.reminders = PgReminders(session)
        self.safety_events = PgSafetyEvents(session)
        self.processed_updates = PgProcessedUpdates(session)

    async def delete_user(self, user_id: int) -> None:
        for statement in _DELETE_USER:  # sent together: nothing waits for their results
            await self.session.write(statement, (user_id,))


_DELETE_USER = tuple(sql.SQL("DELETE FROM {} WHERE user_id = %s").format(sql.Identifier(table))
                     for table in USER_TABLES)


def _profile(user_id: int, row: Sequence[Any]) -> Profile:
    language, country, hold, timezone, active, extra, cleared, paused_by = row
    return Profile(user_id, language, country, hold_from_json(hold), timezone, bool(active),
                   json.loads(extra), json.loads(cleared), paused_by)
