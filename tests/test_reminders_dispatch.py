"""The reminder dispatcher, driven by a fake clock (and the real one only for the rate limit)."""

from __future__ import annotations

import asyncio
import time as _time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from back_care_guide.reminders.dispatcher import FloodWait, ReminderDispatcher, SendResult, StoredReminders
from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.store.records import Due
from back_care_guide.store.sqlite import SqliteStore
from tests.harness import ReminderCalls

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = 60.0
HOUR = 3600.0
FAST = 10_000.0  # rate for tests that are not about the rate


def ts(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()


def local(tz: ZoneInfo, epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).astimezone(tz).replace(tzinfo=None)


def rule(hh: int, mm: int = 0, weekdays_only: bool = False, zone: str = "Europe/Berlin") -> ReminderRule:
    return ReminderRule(time(hh, mm), weekdays_only, zone)


MONDAY_7 = ts(BERLIN, 2026, 3, 2, 7, 0)


class FakeClock:
    """Epoch seconds that only move when someone sleeps (or the test says so)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class Recorder:
    """A send callback: records (clock time, due), answers with a scripted result."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, Due]] = []
        self.attempts: list[float] = []
        self.results: dict[int, SendResult] = {}
        self.floods: list[float] = []  # retry_after values to raise, one per attempt, first

    async def __call__(self, due: Due) -> SendResult:
        self.attempts.append(self.clock())
        if self.floods:
            raise FloodWait(self.floods.pop(0))
        result = self.results.get(due.user_id, SendResult.SENT)
        if result is SendResult.SENT:
            self.sent.append((self.clock(), due))
        return result

    def users(self) -> list[int]:
        return [due.user_id for _, due in self.sent]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ReminderCalls]:
    s = ReminderCalls(SqliteStore(tmp_path / "bot.db"))
    yield s
    await s.close()


def queue(store: ReminderCalls) -> StoredReminders:
    """The reminders of the store as the bot's dispatcher reads and claims them."""
    return StoredReminders(store.store)


def dispatcher(store: ReminderCalls, clock: FakeClock, send: Recorder, *, concurrency: int = 8,
               per_chat_interval: float = 1.0) -> ReminderDispatcher:
    return ReminderDispatcher(queue(store), send, clock=clock, sleep=clock.sleep, rate_per_second=FAST,
                              per_chat_interval=per_chat_interval, concurrency=concurrency)


async def test_due_is_sent_and_early_is_not(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    r = await store.add(1, rule(8), MONDAY_7)
    d = dispatcher(store, clock, send)
    clock.now = r.next_fire_utc - 1  # early
    assert (await d.run_once()).sent == 0
    clock.now = r.next_fire_utc
    stats = await d.run_once()
    assert stats.sent == 1 and send.users() == [1]
    assert send.sent[0][1].late == 0
    assert (await d.run_once()).sent == 0  # not twice


async def test_late_by_minutes_is_sent(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    r = await store.add(1, rule(8), MONDAY_7)
    clock.now = r.next_fire_utc + 20 * MINUTE
    stats = await dispatcher(store, clock, send).run_once()
    assert stats.sent == 1 and stats.too_late == 0
    assert send.sent[0][1].late == pytest.approx(20 * MINUTE)


async def test_late_by_hours_is_skipped_and_advanced(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    r = await store.add(1, rule(8), MONDAY_7)
    clock.now = r.next_fire_utc + 3 * HOUR  # e.g. the bot was down all morning
    stats = await dispatcher(store, clock, send).run_once()
    assert (stats.sent, stats.too_late) == (0, 1) and send.sent == []
    after = await store.get(r.id)
    assert after is not None and local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)


async def test_weekdays_only_skips_weekend_in_users_zone(store: ReminderCalls) -> None:
    # Auckland: Monday 08:00 local is Sunday evening in UTC.
    auckland = ZoneInfo("Pacific/Auckland")
    start = ts(auckland, 2026, 3, 6, 12)  # Friday noon
    clock = FakeClock(start)
    send = Recorder(clock)
    await store.add(1, rule(8, weekdays_only=True, zone="Pacific/Auckland"), start)
    d = dispatcher(store, clock, send)
    while clock.now < start + 7 * 24 * HOUR:
        clock.now += 10 * MINUTE
        await d.run_once()
    days = [local(auckland, t).strftime("%a %H:%M") for t, _ in send.sent]
    assert days == ["Mon 08:00", "Tue 08:00", "Wed 08:00", "Thu 08:00", "Fri 08:00"]


async def test_dst_both_directions_keep_local_time_and_fire_once(store: ReminderCalls) -> None:
    start = ts(BERLIN, 2026, 3, 27, 12)
    clock = FakeClock(start)
    send = Recorder(clock)
    await store.add(1, rule(8), start)
    await store.add(2, rule(2, 30), start)  # missing on 2026-03-29
    d = dispatcher(store, clock, send)
    while clock.now < start + 4 * 24 * HOUR:
        clock.now += 5 * MINUTE
        await d.run_once()
    eights = [local(BERLIN, t) for t, due in send.sent if due.user_id == 1]
    assert [e.strftime("%d %H:%M") for e in eights] == ["28 08:00", "29 08:00", "30 08:00", "31 08:00"]
    gap = [local(BERLIN, due.due_at) for _, due in send.sent if due.user_id == 2]
    assert [g.strftime("%d %H:%M") for g in gap] == ["28 02:30", "29 03:30", "30 02:30", "31 02:30"]


async def test_fall_back_fires_exactly_once(store: ReminderCalls) -> None:
    start = ts(NEW_YORK, 2026, 10, 31, 12)
    clock = FakeClock(start)
    send = Recorder(clock)
    await store.add(1, rule(1, 30, zone="America/New_York"), start)
    d = dispatcher(store, clock, send)
    while clock.now < start + 2 * 24 * HOUR:
        clock.now += 5 * MINUTE
        await d.run_once()
    fired = [datetime.fromtimestamp(due.due_at, UTC) for _, due in send.sent]
    assert fired == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 2, 6, 30, tzinfo=UTC)]


class Crash(BaseException):
    """The process dies (SIGKILL): nothing after this point runs."""


async def test_crash_mid_batch_loses_only_the_one_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    first = ReminderCalls(SqliteStore(path))
    for user in range(20):
        await first.add(user, rule(8), MONDAY_7)
    clock = FakeClock(MONDAY_7 + HOUR + 30)
    sent: list[int] = []
    in_flight: list[int] = []

    async def crashing_send(due: Due) -> SendResult:
        if len(sent) == 7:
            in_flight.append(due.user_id)
            raise Crash  # the process dies while this one is on the wire
        sent.append(due.user_id)
        return SendResult.SENT

    crashed = ReminderDispatcher(queue(first), crashing_send, clock=clock, sleep=clock.sleep,
                                 rate_per_second=FAST, concurrency=1)
    with pytest.raises(BaseException):  # noqa: B017 - Crash, maybe wrapped in a group
        await crashed.run_once()
    await first.close()

    second = ReminderCalls(SqliteStore(path))  # the restart
    restarted = Recorder(clock)
    d = dispatcher(second, clock, restarted)
    stats = await d.run_once()
    assert stats.sent == 12  # everything not yet claimed is still due...
    assert sorted(sent + restarted.users() + in_flight) == list(range(20))  # ...and only
    assert len(in_flight) == 1 and in_flight[0] not in restarted.users()  # the one in flight is lost
    assert (await d.run_once()).sent == 0  # and nothing is sent twice
    clock.now += 24 * HOUR  # the next day everyone gets exactly one
    assert (await d.run_once()).sent == 20
    await second.close()


async def test_crash_with_concurrent_workers_loses_at_most_one_per_worker(tmp_path: Path) -> None:
    """Four workers, each send slow: the bound is the sends in flight, at most ``concurrency``."""
    path = tmp_path / "bot.db"
    first = ReminderCalls(SqliteStore(path))
    for user in range(50):
        await first.add(user, rule(8), MONDAY_7)
    sent: list[int] = []
    started: list[int] = []
    crash = asyncio.Event()

    async def slow_send(due: Due) -> SendResult:
        started.append(due.user_id)
        await asyncio.sleep(0.01)
        if len(sent) >= 9:
            crash.set()
            await asyncio.Event().wait()  # in flight until the process dies
        sent.append(due.user_id)
        return SendResult.SENT

    clock_now = MONDAY_7 + HOUR + 30
    crashed = ReminderDispatcher(queue(first), slow_send, clock=lambda: clock_now, rate_per_second=FAST,
                                 concurrency=4)
    task = asyncio.create_task(crashed.run_once())
    await asyncio.wait_for(crash.wait(), 5)
    await asyncio.sleep(0.05)  # every worker reaches its hanging send
    task.cancel()  # "SIGKILL": no code of the dispatcher runs after this (no rollback exists)
    with pytest.raises(asyncio.CancelledError):
        await task
    await first.close()

    second = ReminderCalls(SqliteStore(path))
    clock = FakeClock(clock_now)
    restarted = Recorder(clock)
    await dispatcher(second, clock, restarted).run_once()
    lost = set(range(50)) - set(sent) - set(restarted.users())
    assert lost == set(started) - set(sent)  # exactly those in flight...
    assert 1 <= len(lost) <= 4  # ...at most one per worker
    assert len(sent) + len(restarted.users()) == len(set(sent) | set(restarted.users()))  # no duplicates
    await second.close()


async def test_claim_due_in_one_go_is_for_tools_only(tmp_path: Path) -> None:
    """What the old dispatcher did: claim a whole batch, then crash before sending: all lost."""
    path = tmp_path / "bot.db"
    first = ReminderCalls(SqliteStore(path))
    await first.add(99, rule(8, 5), MONDAY_7)
    clock = FakeClock(MONDAY_7 + HOUR + 5 * MINUTE)
    assert [d.user_id for d in await first.claim_due(clock(), 100)] == [99]  # ...and nothing sent
    restarted = Recorder(clock)
    assert (await dispatcher(first, clock, restarted).run_once()).sent == 0
    await first.close()


async def test_a_reminder_changed_before_its_turn_is_not_sent(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    first = await store.add(1, rule(8), MONDAY_7)
    snoozed = await store.add(2, rule(8), MONDAY_7)
    gone = await store.add(3, rule(8), MONDAY_7)
    await store.add(4, rule(8), MONDAY_7)
    clock.now = MONDAY_7 + HOUR
    turns = 0

    async def before_send() -> None:  # while user 1 is sent to, users 2 and 3 change things
        nonlocal turns
        turns += 1
        if turns == 1:
            await store.snooze(snoozed.id, clock() + 30 * MINUTE)
            await store.delete(gone.id)

    d = ReminderDispatcher(queue(store), send, clock=clock, sleep=clock.sleep, rate_per_second=FAST,
                           concurrency=1, before_send=before_send)
    stats = await d.run_once()
    assert sorted(send.users()) == [1, 4] and stats.stale == 2
    assert (await store.get(first.id)) is not None
    clock.now += 30 * MINUTE
    assert (await d.run_once()).sent == 1  # the snooze fires, once
    assert send.users()[2:] == [2]


async def test_too_late_by_the_time_of_its_turn_is_not_sent(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    r = await store.add(1, rule(8), MONDAY_7)
    clock.now = r.next_fire_utc + HOUR - 1  # read just in time...

    async def before_send() -> None:
        await clock.sleep(5)  # ...but its turn comes an hour and 4 s late

    d = ReminderDispatcher(queue(store), send, clock=clock, sleep=clock.sleep, rate_per_second=FAST,
                           before_send=before_send)
    stats = await d.run_once()
    assert (stats.sent, stats.too_late) == (0, 1) and send.sent == []
    after = await store.get(r.id)
    assert after is not None and local(BERLIN, after.next_fire_utc) == datetime(2026, 3, 3, 8, 0)


async def test_flood_wait_pauses_everything_and_retries(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    for user in range(12):
        await store.add(user, rule(8), MONDAY_7)
    clock.now = MONDAY_7 + HOUR
    d = dispatcher(store, clock, send, concurrency=4)
    send.floods = [30.0]  # the very first attempt is refused
    stats = await d.run_once()
    assert stats.flood_waits == 1 and stats.sent == 12
    assert sorted(send.users()) == list(range(12))  # none lost, none twice
    flood_at = send.attempts[0]
    assert all(t >= flood_at + 30 for t, _ in send.sent)  # nothing went out during the pause
    assert len(send.attempts) == 13


async def test_repeated_flood_waits_still_deliver_once(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    await store.add(1, rule(8), MONDAY_7)
    await store.add(2, rule(8), MONDAY_7)
    clock.now = MONDAY_7 + HOUR
    send.floods = [5.0, 7.0, 3.0]
    stats = await dispatcher(store, clock, send).run_once()
    assert stats.flood_waits == 3 and sorted(send.users()) == [1, 2]
    assert clock.now >= MONDAY_7 + HOUR + 15


async def test_rate_stays_under_limit() -> None:
    """60 sends at 50/s, timed with the real monotonic clock: no 1-second window holds more than 50."""

    class ManyDue:
        def __init__(self) -> None:
            self.claimed = False

        async def due(self, now: float, limit: int) -> list[Due]:
            if self.claimed:
                return []
            self.claimed = True
            return [Due(i, 1000 + i, now, 0.0, False) for i in range(60)]

        async def claim(self, dues: Sequence[Due], now: float) -> list[Due]:
            return list(dues)

        async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int:
            return 0

        async def next_due(self) -> float | None:
            return None

    stamps: list[float] = []

    async def send(due: Due) -> SendResult:
        stamps.append(_time.monotonic())
        return SendResult.SENT

    d = ReminderDispatcher(ManyDue(), send, clock=_time.time, rate_per_second=50.0)
    stats = await d.run_once()
    assert stats.sent == 60
    stamps.sort()
    worst = max(sum(1 for t in stamps[i:] if t - start < 1.0) for i, start in enumerate(stamps))
    assert worst <= 50
    assert stamps[-1] - stamps[0] >= 59 / 50 * 0.95  # really paced, not just lucky


async def test_one_message_per_chat_interval(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    await store.add(1, rule(8), MONDAY_7)
    await store.add(1, rule(8, weekdays_only=True), MONDAY_7)  # same minute, same chat
    await store.add(2, rule(8), MONDAY_7)
    clock.now = MONDAY_7 + HOUR
    stats = await dispatcher(store, clock, send, per_chat_interval=1.0).run_once()
    assert stats.sent == 3
    times = [t for t, due in send.sent if due.user_id == 1]
    assert len(times) == 2 and times[1] - times[0] >= 1.0


async def test_gone_disables_the_users_reminders(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    await store.add(1, rule(8), MONDAY_7)
    await store.add(1, rule(8, weekdays_only=True), MONDAY_7)
    await store.add(1, rule(21), MONDAY_7)
    await store.add(2, rule(8), MONDAY_7)
    send.results[1] = SendResult.GONE
    send.results[2] = SendResult.SKIPPED
    clock.now = MONDAY_7 + HOUR
    d = dispatcher(store, clock, send)
    stats = await d.run_once()
    assert (stats.sent, stats.gone, stats.skipped) == (0, 2, 1)
    assert len(send.attempts) == 2  # the user's second reminder was not even tried
    assert all(not r.active for r in await store.list(1))
    assert all(r.active for r in await store.list(2))
    clock.now += 24 * HOUR
    assert (await d.run_once()).gone == 0


async def test_other_send_errors_lose_one_occurrence_only(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    await store.add(1, rule(8), MONDAY_7)
    await store.add(2, rule(8), MONDAY_7)
    calls: list[int] = []

    async def flaky(due: Due) -> SendResult:
        calls.append(due.user_id)
        if due.user_id == 1:
            raise ConnectionError("network down")
        return SendResult.SENT

    clock.now = MONDAY_7 + HOUR
    d = ReminderDispatcher(queue(store), flaky, clock=clock, sleep=clock.sleep, rate_per_second=FAST)
    stats = await d.run_once()
    assert (stats.sent, stats.failed) == (1, 1) and sorted(calls) == [1, 2]
    assert (await d.run_once()).total() == 0


async def test_run_sleeps_until_next_due_and_stops(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7 + HOUR - 0.25)  # 07:59:59.75
    send = Recorder(clock)
    await store.add(1, rule(8), MONDAY_7)
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if clock.now > MONDAY_7 + HOUR + 5:
            stop.set()

    d = ReminderDispatcher(queue(store), send, clock=clock, sleep=sleep, rate_per_second=FAST)
    await asyncio.wait_for(d.run(stop, poll_interval=1.0), timeout=5)
    assert send.users() == [1]
    assert clock.sleeps[0] == pytest.approx(0.25)  # woke for the due time, not the full poll interval
    assert all(s <= 1.0 for s in clock.sleeps)


async def test_run_stops_promptly_with_real_sleep(store: ReminderCalls) -> None:
    stop = asyncio.Event()
    d = ReminderDispatcher(queue(store), Recorder(FakeClock(0)), clock=_time.time)
    task = asyncio.create_task(d.run(stop, poll_interval=60.0))
    await asyncio.sleep(0.05)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_every_attempt_waits_for_room_left_by_conversations(store: ReminderCalls) -> None:
    clock = FakeClock(MONDAY_7)
    send = Recorder(clock)
    for uid in (1, 2, 3):
        await store.add(uid, rule(7), MONDAY_7 - MINUTE)
    asked: list[float] = []

    async def before_send() -> None:  # as if conversations had the next 2 s to themselves
        asked.append(clock())
        if len(asked) == 1:
            await clock.sleep(2.0)

    d = ReminderDispatcher(queue(store), send, clock=clock, sleep=clock.sleep, rate_per_second=FAST,
                           concurrency=1, before_send=before_send)
    stats = await d.run_once()
    assert stats.sent == 3
    assert len(asked) == 3
    assert [t for t, _ in send.sent] == [MONDAY_7 + 2.0] * 3  # none went out before the room
