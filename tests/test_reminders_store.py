"""The reminders table: CRUD, the per-user cap, pausing, snooze/skip, reading what is due and
claiming it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.store.errors import TooManyReminders
from back_care_guide.store.repositories import MAX_REMINDERS_PER_USER
from back_care_guide.store.sqlite import SqliteStore
from tests.harness import ReminderCalls

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = 60.0
HOUR = 3600.0


def ts(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()


def local(tz: ZoneInfo, epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).astimezone(tz).replace(tzinfo=None)


def rule(hh: int, mm: int = 0, weekdays_only: bool = False, zone: str = "Europe/Berlin") -> ReminderRule:
    return ReminderRule(time(hh, mm), weekdays_only, zone)


MONDAY_7 = ts(BERLIN, 2026, 3, 2, 7, 0)  # Monday 2026-03-02 07:00 Berlin


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ReminderCalls]:
    s = ReminderCalls(SqliteStore(tmp_path / "bot.db"))
    yield s
    await s.close()


async def test_add_list_get(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    assert r.user_id == 1 and r.active and r.snoozed_until is None and r.created_at == MONDAY_7
    assert local(BERLIN, r.next_fire_utc) == datetime(2026, 3, 2, 8, 0)
    assert r.due_at == r.next_fire_utc
    await store.add(1, rule(20, 30, weekdays_only=True), MONDAY_7)
    await store.add(2, rule(9), MONDAY_7)
    mine = await store.list(1)
    assert [(x.rule.hhmm, x.rule.weekdays_only) for x in mine] == [("08:00", False), ("20:30", True)]
    assert await store.get(r.id) == r
    assert await store.get(9999) is None


async def test_identical_time_and_days_replaces(store: ReminderCalls) -> None:
    first = await store.add(1, rule(8), MONDAY_7)
    await store.snooze(first.id, MONDAY_7 + 10 * MINUTE)
    again = await store.add(1, rule(8, zone="America/New_York"), MONDAY_7)
    assert again.id == first.id
    assert again.rule.zone == "America/New_York" and again.snoozed_until is None
    other_days = await store.add(1, rule(8, weekdays_only=True), MONDAY_7)
    assert other_days.id != first.id
    assert len(await store.list(1)) == 2


async def test_cap_per_user(store: ReminderCalls) -> None:
    for hour in range(MAX_REMINDERS_PER_USER):
        await store.add(1, rule(6 + hour), MONDAY_7)
    with pytest.raises(TooManyReminders) as info:
        await store.add(1, rule(20), MONDAY_7)
    assert info.value.limit == MAX_REMINDERS_PER_USER
    await store.add(1, rule(6, zone="UTC"), MONDAY_7)  # replacing is still allowed at the cap
    await store.add(2, rule(20), MONDAY_7)  # other users are unaffected
    assert len(await store.list(1)) == MAX_REMINDERS_PER_USER


async def test_update_and_merge(store: ReminderCalls) -> None:
    a = await store.add(1, rule(8), MONDAY_7)
    b = await store.add(1, rule(9), MONDAY_7)
    updated = await store.update(a.id, rule(10, weekdays_only=True), MONDAY_7)
    assert updated is not None and updated.rule.hhmm == "10:00" and updated.rule.weekdays_only
    assert local(BERLIN, updated.next_fire_utc) == datetime(2026, 3, 2, 10, 0)
    merged = await store.update(b.id, rule(10, weekdays_only=True), MONDAY_7)  # same as a → a goes
    assert merged is not None
    assert [x.id for x in await store.list(1)] == [b.id]
    assert await store.update(12345, rule(8), MONDAY_7) is None


async def test_delete_and_delete_all(store: ReminderCalls) -> None:
    a = await store.add(1, rule(8), MONDAY_7)
    await store.add(1, rule(9), MONDAY_7)
    await store.add(2, rule(9), MONDAY_7)
    assert await store.delete(a.id)
    assert not await store.delete(a.id)
    assert await store.delete_all(1) == 1
    assert await store.list(1) == []
    assert len(await store.list(2)) == 1


async def test_claim_due_advances_atomically(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    assert await store.claim_due(MONDAY_7 + 59 * MINUTE, 10) == []  # early: nothing
    now = MONDAY_7 + HOUR + 3 * MINUTE
    (due,) = await store.claim_due(now, 10)
    assert (due.reminder_id, due.user_id, due.due_at) == (r.id, 1, r.next_fire_utc)
    assert due.late == pytest.approx(3 * MINUTE) and not due.snoozed
    after = await store.get(r.id)
    assert after is not None and local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)
    assert await store.claim_due(now, 10) == []  # claimed once, never twice


async def test_claim_due_respects_limit_and_order(store: ReminderCalls) -> None:
    for user in range(10):
        await store.add(user, rule(8, user), MONDAY_7)
    now = MONDAY_7 + 2 * HOUR
    first = await store.claim_due(now, 4)
    rest = await store.claim_due(now, 100)
    assert [d.user_id for d in first] == [0, 1, 2, 3]
    assert [d.user_id for d in rest] == [4, 5, 6, 7, 8, 9]
    assert await store.claim_due(now, 100) == []


async def test_due_reads_without_claiming(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    await store.add(2, rule(9), MONDAY_7)
    assert await store.due(MONDAY_7 + 59 * MINUTE, 10) == []
    now = MONDAY_7 + HOUR + 3 * MINUTE
    (due,) = await store.due(now, 10)
    assert (due.reminder_id, due.user_id, due.due_at, due.snoozed) == (r.id, 1, r.next_fire_utc, False)
    assert due.late == pytest.approx(3 * MINUTE)
    assert await store.due(now, 10) == [due]  # nothing was advanced: a crash now loses nothing
    assert await store.get(r.id) == r


async def test_claim_takes_each_occurrence_once(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    (due,) = await store.due(MONDAY_7 + HOUR, 10)
    now = MONDAY_7 + HOUR + 2.5
    (claimed,) = await store.claim([due], now)
    assert (claimed.reminder_id, claimed.due_at) == (r.id, due.due_at)
    assert claimed.late == pytest.approx(2.5)  # measured to the claim, right before the send
    after = await store.get(r.id)
    assert after is not None and local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)
    assert await store.claim([due], now) == []  # never twice (a second round, a restart)
    assert await store.due(now, 10) == []


async def test_claim_skips_what_changed_since_it_was_read(store: ReminderCalls) -> None:
    kept, snoozed, edited, paused, deleted = [
        await store.add(user, rule(8), MONDAY_7) for user in range(1, 6)]
    now = MONDAY_7 + HOUR
    dues = await store.due(now, 10)
    assert len(dues) == 5
    await store.snooze(snoozed.id, now + 30 * MINUTE)
    await store.update(edited.id, rule(8, 30), now)
    await store.set_active_for_user(paused.user_id, False, now)
    await store.delete(deleted.id)
    claimed = await store.claim(dues, now + 1)
    assert [d.reminder_id for d in claimed] == [kept.id]
    still = await store.get(snoozed.id)
    assert still is not None and still.snoozed_until == now + 30 * MINUTE  # left as the user set it
    edited_now = await store.get(edited.id)
    assert edited_now is not None and local(BERLIN, edited_now.next_fire_utc) == datetime(2026, 3, 2, 8, 30)


async def test_due_deactivates_an_unusable_rule(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = ReminderCalls(SqliteStore(path))
    r = await store.add(1, rule(8), MONDAY_7)
    other = await store.add(2, rule(8), MONDAY_7)
    db = sqlite3.connect(path)
    with db:  # e.g. a zone key that a tzdata update dropped
        db.execute("UPDATE reminders SET zone = 'Mars/Olympus_Mons' WHERE id = ?", (r.id,))
    db.close()
    assert [d.reminder_id for d in await store.due(MONDAY_7 + HOUR, 10)] == [other.id]
    (row,) = await store.list(2)
    assert row.active
    assert await store.next_due() == other.next_fire_utc  # the broken one is inactive now
    await store.close()


async def test_claim_of_a_snoozed_repeat(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    assert len(await store.claim(await store.due(MONDAY_7 + HOUR, 10), MONDAY_7 + HOUR)) == 1
    until = MONDAY_7 + HOUR + 30 * MINUTE
    await store.snooze(r.id, until)
    assert await store.claim(await store.due(until, 10), until - 1) == []  # not due at the claim's now
    (due,) = await store.due(until + 5, 10)
    assert due.snoozed and due.due_at == until
    (claimed,) = await store.claim([due], until + 5)
    assert claimed.snoozed
    after = await store.get(r.id)
    assert after is not None and after.snoozed_until is None
    assert local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)


async def test_claim_after_long_downtime_collapses_to_one(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    now = MONDAY_7 + 3 * 24 * HOUR  # three days later, 07:00
    (due,) = await store.claim_due(now, 10)
    assert due.due_at == r.next_fire_utc and due.late > 2 * 24 * HOUR
    after = await store.get(r.id)
    assert after is not None and local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 5, 8, 0)


async def test_snooze(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    assert len(await store.claim_due(MONDAY_7 + HOUR, 10)) == 1
    until = MONDAY_7 + HOUR + 30 * MINUTE
    assert await store.snooze(r.id, until)
    assert await store.next_due() == until
    assert await store.claim_due(until - 1, 10) == []
    (again,) = await store.claim_due(until + 5, 10)
    assert again.snoozed and again.due_at == until and again.late == pytest.approx(5)
    after = await store.get(r.id)
    assert after is not None and after.snoozed_until is None
    assert local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)
    assert not await store.snooze(9999, until)


async def test_skip_today(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8, weekdays_only=True), ts(BERLIN, 2026, 3, 6, 7))  # Friday
    skipped = await store.skip_today(r.id, ts(BERLIN, 2026, 3, 6, 7))
    assert skipped is not None and local(BERLIN, skipped.next_fire_utc) == datetime(2026, 3, 9, 8, 0)
    assert await store.claim_due(ts(BERLIN, 2026, 3, 6, 9), 10) == []
    assert await store.skip_today(9999, MONDAY_7) is None


async def test_pause_and_resume_never_sends_missed(store: ReminderCalls) -> None:
    a = await store.add(1, rule(8), MONDAY_7)
    await store.add(1, rule(9), MONDAY_7)
    other = await store.add(2, rule(8), MONDAY_7)
    await store.snooze(a.id, MONDAY_7 + 10 * MINUTE)
    assert await store.set_active_for_user(1, False, MONDAY_7) == 2
    assert all(not x.active and x.snoozed_until is None for x in await store.list(1))
    later = MONDAY_7 + 3 * 24 * HOUR + 4 * HOUR  # Thursday 11:00
    assert [d.reminder_id for d in await store.claim_due(later, 10)] == [other.id]
    assert await store.set_active_for_user(1, True, later) == 2
    assert await store.set_active_for_user(1, True, later) == 0  # already active: unchanged
    assert await store.claim_due(later, 10) == []  # nothing missed is sent
    fires = sorted(local(BERLIN, x.next_fire_utc) for x in await store.list(1))
    assert fires == [datetime(2026, 3, 6, 8, 0), datetime(2026, 3, 6, 9, 0)]


async def test_set_zone_for_user(store: ReminderCalls) -> None:
    r = await store.add(1, rule(8), MONDAY_7)
    assert await store.set_zone_for_user(1, "America/New_York", MONDAY_7) == 1
    moved = await store.get(r.id)
    assert moved is not None and moved.rule.zone == "America/New_York"
    # 07:00 Berlin is 01:00 in New York, so today's 08:00 there is still ahead
    assert local(NEW_YORK, moved.next_fire_utc) == datetime(2026, 3, 2, 8, 0)
    with pytest.raises(ValueError):
        await store.set_zone_for_user(1, "Mars/Olympus", MONDAY_7)


async def test_next_due(store: ReminderCalls) -> None:
    assert await store.next_due() is None
    r = await store.add(1, rule(9), MONDAY_7)
    await store.add(2, rule(10), MONDAY_7)
    assert await store.next_due() == r.next_fire_utc
    await store.set_active_for_user(1, False, MONDAY_7)
    assert local(BERLIN, await store.next_due() or 0) == datetime(2026, 3, 2, 10, 0)


async def test_weekdays_only_claims_skip_weekend(store: ReminderCalls) -> None:
    await store.add(1, rule(8, weekdays_only=True), MONDAY_7)
    fired: list[datetime] = []
    now = MONDAY_7
    while now < MONDAY_7 + 14 * 24 * HOUR:
        now += 15 * MINUTE
        fired += [local(BERLIN, d.due_at) for d in await store.claim_due(now, 10)]
    assert len(fired) == 10
    assert {f.weekday() for f in fired} == {0, 1, 2, 3, 4}
    assert {f.time() for f in fired} == {time(8, 0)}


async def _claims_per_local_day(
    store: ReminderCalls, tz: ZoneInfo, start: float, hours: int
) -> dict[str, int]:
    per_day: dict[str, int] = {}
    now = start
    while now < start + hours * HOUR:
        now += 5 * MINUTE
        for due in await store.claim_due(now, 10):
            day = local(tz, due.due_at).date().isoformat()
            per_day[day] = per_day.get(day, 0) + 1
    return per_day


async def test_spring_forward_fires_once(store: ReminderCalls) -> None:
    start = ts(BERLIN, 2026, 3, 28, 12)
    await store.add(1, rule(2, 30), start)
    per_day = await _claims_per_local_day(store, BERLIN, start, 48)
    assert per_day == {"2026-03-29": 1, "2026-03-30": 1}


async def test_fall_back_fires_once(store: ReminderCalls) -> None:
    start = ts(NEW_YORK, 2026, 10, 31, 12)
    r = await store.add(1, rule(1, 30, zone="America/New_York"), start)
    assert r.next_fire_utc == datetime(2026, 11, 1, 5, 30, tzinfo=UTC).timestamp()
    per_day = await _claims_per_local_day(store, NEW_YORK, start, 48)
    assert per_day == {"2026-11-01": 1, "2026-11-02": 1}


async def test_kept_in_the_bot_database_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first = ReminderCalls(SqliteStore(path))
    r = await first.add(1, rule(8), MONDAY_7)
    await first.close()
    again = ReminderCalls(SqliteStore(path))  # e.g. after a restart
    assert await again.get(r.id) == r
    await again.close()
    db = sqlite3.connect(path)  # in the one database file, next to the conversations
    assert db.execute("SELECT COUNT(*) FROM reminders").fetchone() == (1,)
    db.close()


async def test_failed_add_rolls_back(store: ReminderCalls) -> None:
    for hour in range(MAX_REMINDERS_PER_USER):
        await store.add(1, rule(6 + hour), MONDAY_7)
    with pytest.raises(TooManyReminders):
        await store.add(1, rule(20), MONDAY_7)
    await store.add(2, rule(20), MONDAY_7)  # the connection is not left inside a transaction
    assert len(await store.list(2)) == 1
