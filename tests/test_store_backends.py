"""The store's contract (repositories and unit of work), run against every backend: SQLite in a
temporary folder and PostgreSQL on a fresh database (skipped without server binaries, except
in CI). What a backend must do is what the bot relies on, whatever the SQL behind it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from back_care_guide.flow.loader import FlowBundle
from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.safety.triage import Triage
from back_care_guide.store import Store, StoreError, TooManyReminders, Transaction
from back_care_guide.store.migrations import MIGRATIONS_TABLE
from back_care_guide.store.postgresql import PostgresStore, shown_url
from back_care_guide.store.postgresql import migrations as pg_migrations
from back_care_guide.store.records import (
    Conversation,
    LogSession,
    Profile,
    Prompt,
    SafetyEvent,
    SafetyHold,
    Timer,
)
from back_care_guide.store.repositories import MAX_REMINDERS_PER_USER
from back_care_guide.store.sqlite import SqliteStore
from back_care_guide.store.sqlite import migrations as sqlite_migrations
from back_care_guide.store.state import load_user_state, save_user_state
from tests.harness import ChatClient, ReminderCalls, make_runtime, stored_state
from tests.test_flow import into_hold

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_7 = datetime(2026, 3, 2, 7, 0, tzinfo=BERLIN).timestamp()  # Monday 07:00 Berlin
MINUTE = 60.0
HOUR = 3600.0
USER = 1_234_567_890_123  # wider than 32 bits, as Telegram's ids may be
OTHER = 42


class Boom(Exception):
    pass


@dataclass
class Backend:
    """One backend: how to open a store on the test's database, and read its migrations table."""

    name: str
    open: Callable[[], Store]
    applied: Callable[[], list[tuple[int, str]]]  # (version, name) rows of schema_migrations
    latest: int


def _sqlite(path: Path) -> Backend:
    def applied() -> list[tuple[int, str]]:
        with sqlite3.connect(path) as db:
            return [(int(v), str(n)) for v, n in db.execute(
                f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version")]

    return Backend("sqlite", lambda: SqliteStore(path), applied, sqlite_migrations.SCHEMA_VERSION)


def _postgres(url: str) -> Backend:
    def applied() -> list[tuple[int, str]]:
        with psycopg.connect(url) as conn:
            return [(int(v), str(n)) for v, n in conn.execute(
                f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version")]

    return Backend("postgresql", lambda: PostgresStore.from_url(url), applied,
                   pg_migrations.SCHEMA_VERSION)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return _sqlite(tmp_path / "bot.db")
    return _postgres(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.open()
    yield s
    await s.close()


@pytest.fixture
def reminders(store: Store) -> ReminderCalls:
    return ReminderCalls(store)


def rule(hh: int, mm: int = 0, weekdays_only: bool = False, zone: str = "Europe/Berlin") -> ReminderRule:
    return ReminderRule(time(hh, mm), weekdays_only, zone)


def local(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).astimezone(BERLIN).replace(tzinfo=None)


def conversation(state: str = "knee_to_chest", seq: int = 7) -> Conversation:
    # "asked" in the order it was filled, not sorted: the engine keeps its last entries by position
    ctx = {"seq": seq, "asked": {"9": "pain_before", "10": "welcome", "8": "screen_legs"},
           "started_at": MONDAY_7 - 0.125, "note": "ünïcode ✓", "pain_before": None}
    return Conversation(USER, state, ctx,
                        [Timer("hold", MONDAY_7 + 20.5, 3), Timer("halfway", MONDAY_7 + 10.25, 3)],
                        Prompt(5001, "Hold the stretch.", seq, picture=True, latest=False))


def profile() -> Profile:
    return Profile(USER, "de", "AT", SafetyHold("urgent", "new_weakness", MONDAY_7, "2026-03-02"),
                   "Europe/Vienna", active=False, extra={"b": 1, "a": [1, 2]},
                   cleared={"known_disc": MONDAY_7 - 86400.0}, paused_by="urgent")


async def everything(store: Store, user_id: int = USER) -> tuple[object, ...]:
    """All a store holds about the user, read in one transaction."""
    async with store.transaction() as tx:
        conv, prof = await load_user_state(tx, user_id)
        return (conv and (conv.state, conv.ctx, conv.timers, conv.prompt), prof,
                await tx.sessions.since(user_id, 0), await tx.reminders.list(user_id),
                await tx.safety_events.for_user(user_id),
                [p for p in await tx.timers.pending() if p.user_id == user_id])


NOTHING: tuple[object, ...] = (None, None, [], [], [], [])


# ---------------------------------------------------------------- conversations, timers, profiles


async def test_a_conversation_comes_back_as_saved(store: Store) -> None:
    assert await stored_state(store, USER) == (None, None)
    saved = conversation()
    async with store.transaction() as tx:
        await save_user_state(tx, saved, Profile(USER))
    conv, _ = await stored_state(store, USER)
    assert conv is not None and conv.user_id == USER and conv.state == saved.state
    assert conv.ctx == saved.ctx and list(conv.ctx["asked"]) == ["9", "10", "8"]  # key order kept
    assert conv.timers == sorted(saved.timers, key=lambda t: t.due)  # earliest first
    assert conv.prompt == saved.prompt


async def test_saving_again_replaces_state_and_timers(store: Store) -> None:
    async with store.transaction() as tx:
        await save_user_state(tx, conversation(), Profile(USER))
    later = Conversation(USER, "twist_left", {"seq": 8}, [Timer("hold", MONDAY_7 + 99.0, 4)], None)
    async with store.transaction() as tx:
        await save_user_state(tx, later, Profile(USER, "en"))
    conv, prof = await stored_state(store, USER)
    assert conv is not None and (conv.state, conv.ctx, conv.timers, conv.prompt) == (
        "twist_left", {"seq": 8}, [Timer("hold", MONDAY_7 + 99.0, 4)], None)
    assert prof == Profile(USER, "en")
    async with store.transaction() as tx:  # no timers at all
        await tx.timers.replace(USER, [])
        assert await tx.timers.for_user(USER) == []
    async with store.transaction() as tx:
        assert await tx.timers.pending() == []


async def test_the_prompt_is_saved_on_its_own(store: Store) -> None:
    async with store.transaction() as tx:
        await save_user_state(tx, conversation(), Profile(USER))
    prompt = Prompt(6000, "Next question", 9)
    async with store.transaction() as tx:
        await tx.conversations.save_prompt(USER, prompt)
        await tx.conversations.save_prompt(OTHER, prompt)  # nobody: nothing happens
    conv, _ = await stored_state(store, USER)
    assert conv is not None and conv.prompt == prompt and conv.state == "knee_to_chest"
    async with store.transaction() as tx:
        await tx.conversations.save_prompt(USER, None)
        assert await tx.conversations.get(OTHER) is None
    conv, _ = await stored_state(store, USER)
    assert conv is not None and conv.prompt is None


async def test_a_profile_with_its_hold(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.profiles.save(profile())
    assert await stored_state(store, USER) == (None, profile())  # a profile without a conversation
    changed = profile()
    changed.hold, changed.active, changed.paused_by = None, True, None
    async with store.transaction() as tx:
        await tx.profiles.save(changed)
        assert await tx.profiles.get(USER) == changed
        assert await tx.profiles.get(OTHER) is None


async def test_a_transaction_reads_what_it_wrote(store: Store) -> None:
    async with store.transaction() as tx:
        assert await load_user_state(tx, USER) == (None, None)
        await save_user_state(tx, conversation(), profile())
        conv, prof = await load_user_state(tx, USER)
        assert conv is not None and conv.state == "knee_to_chest" and len(conv.timers) == 2
        assert prof == profile()
        await tx.timers.replace(USER, [Timer("hold", MONDAY_7, 5)])  # after the load
        assert await tx.timers.for_user(USER) == [Timer("hold", MONDAY_7, 5)]
        await tx.profiles.save(Profile(USER, "fr"))
        assert await tx.profiles.get(USER) == Profile(USER, "fr")
        conv.state = "changed after saving"  # what was saved was taken at the call
    conv, prof = await stored_state(store, USER)
    assert conv is not None and conv.state == "knee_to_chest" and prof == Profile(USER, "fr")


async def test_pending_timers_of_everyone_earliest_first(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.timers.replace(USER, [Timer("hold", MONDAY_7 + 30, 1)])
        await tx.timers.replace(OTHER, [Timer("hold", MONDAY_7 + 10, 2), Timer("nudge", MONDAY_7 + 50, 2)])
    async with store.transaction() as tx:
        pending = await tx.timers.pending()
    assert [(p.user_id, p.timer.due) for p in pending] == [
        (OTHER, MONDAY_7 + 10), (USER, MONDAY_7 + 30), (OTHER, MONDAY_7 + 50)]
    async with store.transaction() as tx:  # the overdue ones, for a replica to take over
        overdue = await tx.timers.due(MONDAY_7 + 30, 10)
        first = await tx.timers.due(MONDAY_7 + 60, 1)
    assert [(p.user_id, p.timer.due) for p in overdue] == [(OTHER, MONDAY_7 + 10)]
    assert [(p.user_id, p.timer.due) for p in first] == [(OTHER, MONDAY_7 + 10)]


# ---------------------------------------------------------------- histories


async def test_sessions_since(store: Store) -> None:
    sessions = [LogSession(MONDAY_7 + i * HOUR, MONDAY_7 + i * HOUR + 600, "done", 5 - i, None)
                for i in range(4)]
    async with store.transaction() as tx:
        for session in reversed(sessions):
            await tx.sessions.add(USER, session)
        await tx.sessions.add(OTHER, sessions[3])
    async with store.transaction() as tx:
        assert await tx.sessions.since(USER, MONDAY_7 + HOUR) == sessions[1:]  # oldest first
        assert await tx.sessions.since(USER, MONDAY_7 + 10 * HOUR) == []
        assert await tx.sessions.since(OTHER, 0) == [sessions[3]]


async def test_safety_events_in_order(store: Store) -> None:
    events = [SafetyEvent(MONDAY_7, "reported", "emergency", "saddle_numbness", "text"),
              SafetyEvent(MONDAY_7, "corrected", "emergency", "saddle_numbness", "button"),
              SafetyEvent(MONDAY_7 + HOUR, "cleared", "emergency", "saddle_numbness", "check")]
    async with store.transaction() as tx:
        for event in events:  # the first two at the same instant: kept in the order written
            await tx.safety_events.add(USER, event)
        await tx.safety_events.add(OTHER, events[0])
    async with store.transaction() as tx:
        assert await tx.safety_events.for_user(USER) == events
        assert await tx.safety_events.for_user(OTHER) == events[:1]


async def test_processed_updates_once(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.processed_updates.add(10**12, MONDAY_7)
        assert not await tx.processed_updates.add(10**12, MONDAY_7 + 5)  # a re-delivery
        assert await tx.processed_updates.add(2, MONDAY_7 + 10)
    async with store.transaction() as tx:
        assert not await tx.processed_updates.add(2, MONDAY_7 + 11)  # also in another transaction
        assert await tx.processed_updates.forget_before(MONDAY_7 + 10) == 1
        assert await tx.processed_updates.add(10**12, MONDAY_7 + 20)  # forgotten: new again


# ---------------------------------------------------------------- reminders


async def test_reminders_add_replace_and_cap(reminders: ReminderCalls) -> None:
    first = await reminders.add(USER, rule(8), MONDAY_7)
    assert first.user_id == USER and first.active and first.snoozed_until is None
    assert first.created_at == MONDAY_7 and local(first.next_fire_utc) == datetime(2026, 3, 2, 8, 0)
    assert await reminders.get(first.id) == first and await reminders.get(first.id + 999) is None
    await reminders.snooze(first.id, MONDAY_7 + 10 * MINUTE)
    again = await reminders.add(USER, rule(8, zone="America/New_York"), MONDAY_7)
    assert again.id == first.id and again.rule.zone == "America/New_York" and again.snoozed_until is None
    for hour in range(9, 9 + MAX_REMINDERS_PER_USER - 1):
        await reminders.add(USER, rule(hour, weekdays_only=hour % 2 == 0), MONDAY_7)
    with pytest.raises(TooManyReminders):
        await reminders.add(USER, rule(20), MONDAY_7)
    listed = await reminders.list(USER)
    assert [(r.rule.hhmm, r.rule.weekdays_only) for r in listed] == [
        ("08:00", False), ("09:00", False), ("10:00", True), ("11:00", False), ("12:00", True)]
    assert await reminders.list(OTHER) == []


async def test_reminders_update_merge_and_delete(reminders: ReminderCalls) -> None:
    a = await reminders.add(USER, rule(8), MONDAY_7)
    b = await reminders.add(USER, rule(9), MONDAY_7)
    updated = await reminders.update(a.id, rule(10, weekdays_only=True), MONDAY_7)
    assert updated is not None and updated.rule.hhmm == "10:00" and updated.rule.weekdays_only
    assert await reminders.update(b.id, rule(10, weekdays_only=True), MONDAY_7) is not None
    assert [r.id for r in await reminders.list(USER)] == [b.id]  # a merged into b
    assert await reminders.update(a.id, rule(8), MONDAY_7) is None
    assert await reminders.delete(b.id) and not await reminders.delete(b.id)
    await reminders.add(USER, rule(8), MONDAY_7)
    await reminders.add(USER, rule(9), MONDAY_7)
    assert await reminders.delete_all(USER) == 2 and await reminders.list(USER) == []


async def test_reminders_next_due_and_claims(reminders: ReminderCalls) -> None:
    assert await reminders.next_due() is None
    r = await reminders.add(USER, rule(8), MONDAY_7)
    other = await reminders.add(OTHER, rule(9), MONDAY_7)
    assert await reminders.next_due() == r.next_fire_utc
    await reminders.snooze(other.id, MONDAY_7 + 5 * MINUTE)
    assert await reminders.next_due() == MONDAY_7 + 5 * MINUTE  # a snooze counts as due
    now = MONDAY_7 + HOUR + 3 * MINUTE
    dues = await reminders.due(now, 10)
    assert [(d.reminder_id, d.snoozed) for d in dues] == [(other.id, True), (r.id, False)]
    assert await reminders.due(now, 10) == dues  # reading claims nothing
    claimed = await reminders.claim(dues, now + 1)
    assert [d.reminder_id for d in claimed] == [other.id, r.id]
    assert claimed[1].late == pytest.approx(3 * MINUTE + 1)
    assert await reminders.claim(dues, now + 2) == []  # each occurrence once
    after = await reminders.get(r.id)
    assert after is not None and local(after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)
    resumed = await reminders.get(other.id)  # the snooze fired; the 09:00 of today still stands
    assert resumed is not None and resumed.snoozed_until is None
    assert local(resumed.next_fire_utc) == datetime(2026, 3, 2, 9, 0)


async def test_reminders_claim_due_in_order_and_limit(reminders: ReminderCalls) -> None:
    for user in range(6):
        await reminders.add(user, rule(8, user), MONDAY_7)
    now = MONDAY_7 + 2 * HOUR
    assert [d.user_id for d in await reminders.claim_due(now, 4)] == [0, 1, 2, 3]
    assert [d.user_id for d in await reminders.claim_due(now, 100)] == [4, 5]
    assert await reminders.claim_due(now, 100) == []


async def test_reminders_pause_zone_snooze_and_skip(reminders: ReminderCalls) -> None:
    r = await reminders.add(USER, rule(8), MONDAY_7)
    await reminders.snooze(r.id, MONDAY_7 + 30 * MINUTE)
    assert await reminders.set_active_for_user(USER, False, MONDAY_7) == 1
    paused = await reminders.get(r.id)
    assert paused is not None and not paused.active and paused.snoozed_until is None
    assert not await reminders.snooze(r.id, MONDAY_7 + HOUR)  # paused: no snooze
    assert await reminders.due(MONDAY_7 + 3 * HOUR, 10) == []
    assert await reminders.set_active_for_user(USER, True, MONDAY_7 + 3 * HOUR) == 1
    back = await reminders.get(r.id)  # missed while paused: never sent, next is tomorrow
    assert back is not None and back.active and local(back.next_fire_utc) == datetime(2026, 3, 3, 8, 0)
    assert await reminders.set_zone_for_user(USER, "America/New_York", MONDAY_7) == 1
    moved = await reminders.get(r.id)
    assert moved is not None and moved.rule.zone == "America/New_York" and moved.rule.hhmm == "08:00"
    with pytest.raises(ValueError):
        await reminders.set_zone_for_user(USER, "Not/AZone", MONDAY_7)
    today = await reminders.add(USER, rule(9), MONDAY_7)
    skipped = await reminders.skip_today(today.id, MONDAY_7)
    assert skipped is not None and local(skipped.next_fire_utc) == datetime(2026, 3, 3, 9, 0)
    assert await reminders.skip_today(today.id + 999, MONDAY_7) is None


# ---------------------------------------------------------------- the unit of work


async def _fill(store: Store, user_id: int = USER) -> None:
    async with store.transaction() as tx:
        await save_user_state(tx, conversation(), profile())
        await tx.sessions.add(user_id, LogSession(MONDAY_7, MONDAY_7 + 600, "done", 4, 2))
        await tx.reminders.add(user_id, rule(8), MONDAY_7)
        await tx.safety_events.add(user_id, SafetyEvent(MONDAY_7, "reported", "urgent", "x", "text"))


async def test_delete_user_erases_everything(store: Store) -> None:
    await _fill(store)
    async with store.transaction() as tx:
        await save_user_state(tx, Conversation(OTHER, "welcome"), Profile(OTHER, "en"))
        await tx.reminders.add(OTHER, rule(9), MONDAY_7)
    assert await everything(store) != NOTHING
    async with store.transaction() as tx:
        await tx.delete_user(USER)
    assert await everything(store) == NOTHING
    conv, prof = await stored_state(store, OTHER)  # nobody else's
    assert conv is not None and prof == Profile(OTHER, "en")
    assert len(await ReminderCalls(store).list(OTHER)) == 1


async def test_a_failing_body_leaves_nothing(store: Store) -> None:
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await save_user_state(tx, conversation(), profile())
            await tx.reminders.add(USER, rule(8), MONDAY_7)
            await tx.sessions.add(USER, LogSession(MONDAY_7, MONDAY_7 + 1, "done", None, None))
            await tx.safety_events.add(USER, SafetyEvent(MONDAY_7, "reported", "urgent", "x", "text"))
            await tx.processed_updates.add(77, MONDAY_7)
            raise Boom
    assert await everything(store) == NOTHING
    async with store.transaction() as tx:  # the store goes on working, and 77 was not noted
        assert await tx.processed_updates.add(77, MONDAY_7)


async def test_a_refused_write_undoes_the_whole_transaction(store: Store) -> None:
    """A write the database refuses (two timers of one kind break the key) takes the whole
    transaction with it, whenever the backend reports it (at the call, or at the commit)."""
    await _fill(store)
    before = await everything(store)
    with pytest.raises(Exception) as refused:
        async with store.transaction() as tx:
            await tx.reminders.delete_all(USER)
            await save_user_state(tx, Conversation(USER, "other", {}, [Timer("hold", 1.0, 1),
                                                                       Timer("hold", 2.0, 1)]),
                                  Profile(USER))
    assert not isinstance(refused.value, AssertionError)
    assert await everything(store) == before


async def test_too_many_reminders_writes_nothing_of_the_transaction(store: Store) -> None:
    for hour in range(MAX_REMINDERS_PER_USER):
        await ReminderCalls(store).add(USER, rule(6 + hour), MONDAY_7)
    with pytest.raises(TooManyReminders):
        async with store.transaction() as tx:
            await tx.profiles.save(Profile(USER, "it"))
            await tx.reminders.add(USER, rule(20), MONDAY_7)
    assert await stored_state(store, USER) == (None, None)


async def test_migrations_are_recorded(backend: Backend) -> None:
    first = backend.open()
    try:
        assert first.schema_version == backend.latest
        assert [m.version for m in first.migrated] == list(range(1, backend.latest + 1))
    finally:
        await first.close()
    again = backend.open()
    try:
        assert again.migrated == () and again.schema_version == backend.latest
    finally:
        await again.close()
    assert [v for v, _ in backend.applied()] == list(range(1, backend.latest + 1))
    sqlite_names = [m.name for m in sqlite_migrations.MIGRATIONS]
    names = [n for _, n in backend.applied()]
    assert names[:len(sqlite_names)] == sqlite_names  # the same numbers, the same changes
    assert names[len(sqlite_names):] == ([] if backend.name == "sqlite" else ["replicas"])


async def test_the_bot_resumes_a_hold_after_a_restart(backend: Backend, bundle: FlowBundle,
                                                      triage: Triage) -> None:
    """The runtime on each backend: a user mid-hold, the process gone, a new one re-arms the
    stored timer and carries on from the stored conversation."""
    def opener(_path: Path) -> Store:
        return backend.open()

    runtime, transport = make_runtime(bundle, triage, Path("unused"), time_scale=0.02, store=opener)
    await runtime.start()
    await into_hold(ChatClient(runtime, transport), "Standard")
    await runtime.close()  # mid-hold
    fresh, transport2 = make_runtime(bundle, triage, Path("unused"), time_scale=0.02, store=opener)
    await fresh.start()
    try:
        resumed = ChatClient(fresh, transport2)
        await resumed.wait_for("slowly return your leg", timeout=5)
        await resumed.click("No pain")
        assert "right knee" in resumed.texts[-1]
    finally:
        await fresh.close()


# ---------------------------------------------------------------- PostgreSQL only


async def test_postgres_replicas_claim_each_reminder_once(fresh_postgres_url: str) -> None:
    """Two stores on one database (two replicas): a claim holds the rows it takes until it
    commits; the other replica's claim waits for it, then finds them advanced."""
    one, two = PostgresStore.from_url(fresh_postgres_url), PostgresStore.from_url(fresh_postgres_url)
    try:
        await ReminderCalls(one).add(USER, rule(8), MONDAY_7)
        now = MONDAY_7 + HOUR
        dues = await ReminderCalls(two).due(now, 10)
        started = asyncio.Event()

        async def second() -> int:
            started.set()
            return len(await ReminderCalls(two).claim(dues, now))

        async with one.transaction() as tx:
            assert len(await tx.reminders.claim(dues, now)) == 1
            task = asyncio.create_task(second())
            await started.wait()
            await asyncio.sleep(0.2)
            assert not task.done()  # waiting for the first claim's lock
        assert await task == 0
        async with one.transaction() as tx:  # claim_due skips what another replica holds
            await tx.reminders.add(OTHER, rule(7, 30), MONDAY_7 - HOUR)
        async with one.transaction() as tx:
            mine = await tx.reminders.claim_due(now, 10)
            async with two.transaction() as other:
                assert await other.reminders.claim_due(now, 10) == []
        assert [d.user_id for d in mine] == [OTHER]
    finally:
        await one.close()
        await two.close()


async def test_postgres_loads_and_saves_a_user_in_one_statement_each(
        fresh_postgres_url: str, tmp_path: Path) -> None:
    """What bench/store_cost.py found cheapest: an event's load is one SELECT and its save one
    statement, each a transaction by itself (no BEGIN, no COMMIT), read from libpq's trace of
    the protocol messages sent."""
    store = PostgresStore(fresh_postgres_url, pool_size=1)
    trace = tmp_path / "libpq.trace"
    try:
        with trace.open("w") as out:
            async with (await store.connection_pool()).connection() as conn:
                conn.pgconn.trace(out.fileno())  # the pool's one connection

            async def statements(body: Callable[[Transaction], Awaitable[object]]) -> list[str]:
                """The first word of each statement the transaction sent."""
                start = trace.stat().st_size
                async with store.transaction() as tx:
                    await body(tx)
                with trace.open() as lines:
                    lines.seek(start)
                    fields = [line.split("\t") for line in lines]
                return [f[4].split('"')[3].split()[0] for f in fields
                        if len(f) > 4 and f[1] == "F" and f[3] == "Parse"]

            saved = await statements(lambda tx: save_user_state(tx, conversation(), profile()))
            loaded = await statements(lambda tx: load_user_state(tx, USER))
            both = await statements(_load_and_save)
            conn.pgconn.untrace()  # before the file closes
        assert saved == ["WITH"]  # conversation, timers and profile: one statement
        assert loaded == ["SELECT"]  # the same three: one SELECT
        assert both == ["SELECT", "BEGIN", "INSERT", "WITH", "COMMIT"]  # these sent together
        conv, prof = await stored_state(store, USER)
        assert conv is not None and conv.ctx == conversation().ctx and len(conv.timers) == 2
        assert prof == profile()
    finally:
        await store.close()


async def _load_and_save(tx: Transaction) -> None:
    conv, prof = await load_user_state(tx, USER)
    assert conv is not None and prof is not None
    await tx.safety_events.add(USER, SafetyEvent(MONDAY_7, "reported", "urgent", "x", "text"))
    await save_user_state(tx, conv, prof)


def test_postgres_refuses_a_database_it_did_not_make(fresh_postgres_url: str) -> None:
    with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE conversations (user_id BIGINT PRIMARY KEY, notes TEXT)")
    with pytest.raises(StoreError) as refused:
        PostgresStore.from_url(fresh_postgres_url)
    text = str(refused.value)
    assert "\n" not in text and "DATABASE_URL=" in text and "not made by this bot" in text
    with psycopg.connect(fresh_postgres_url) as conn:  # left as it was
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


async def test_postgres_refuses_a_newer_schema(fresh_postgres_url: str) -> None:
    await PostgresStore.from_url(fresh_postgres_url).close()
    with psycopg.connect(fresh_postgres_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    with pytest.raises(StoreError, match="newer than this bot's"):
        PostgresStore.from_url(fresh_postgres_url)


def test_postgres_errors_never_show_the_password(postgres_url: str) -> None:
    url = postgres_url.replace("postgres@", "postgres:s3cret@").rsplit("/", 1)[0] + "/no_such_db"
    assert shown_url(url) == url.replace(":s3cret@", ":***@")
    assert shown_url("postgresql://u@h/db?password=s3cret&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require")
    with pytest.raises(StoreError) as refused:
        PostgresStore.from_url(url)
    text = str(refused.value)
    assert "s3cret" not in text and "\n" not in text and "DATABASE_URL=" in text
    with pytest.raises(StoreError, match="postgresql://"):
        PostgresStore.from_url("mysql://user:s3cret@host/db")

