"""The send scheduler: safety first, per-chat order, tidy edits given up, 429s by chat or all.

:class:`SendQueue` is driven with an explicit clock; :class:`SendScheduler` (PTB's rate
limiter) with a fake one whose sleeps only move time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram.error import RetryAfter

from back_care_guide.engine.events import Priority
from back_care_guide.telegram.sending import Lane, SendDropped, SendQueue, SendScheduler, Ticket

SAFETY, REPLY, TIDY, BULK = Priority.SAFETY, Priority.REPLY, Priority.TIDY, Priority.BULK


class Drops(list[tuple[Ticket, str]]):
    def __call__(self, ticket: Ticket, reason: str) -> None:
        self.append((ticket, reason))


def queue(rate: float = 30.0, **kwargs: Any) -> tuple[SendQueue, Drops]:
    drops = Drops()
    return SendQueue(rate, on_drop=drops, **kwargs), drops


def push(q: SendQueue, chat: int, priority: Priority, now: float, **kwargs: Any) -> Ticket:
    ticket = q.ticket(chat, priority, now, **kwargs)
    assert q.push(ticket)
    return ticket


def send_all(q: SendQueue, now: float) -> list[Ticket]:
    """Grant what may go now and finish each call at once."""
    granted = q.grant(now)
    for ticket in granted:
        q.done(ticket)
    return granted


# ------------------------------------------------------------------ SendQueue
def test_safety_goes_next_ahead_of_a_thousand_queued_replies() -> None:
    q, _ = queue(30)
    for chat in range(1, 1001):
        push(q, chat, REPLY, 0.0)
    first = send_all(q, 0.0)
    assert len(first) == 10  # a third of a second's worth at once, then 30 a second
    assert q.queued(REPLY) == 990
    red_flag = push(q, 5000, SAFETY, 0.01)
    assert send_all(q, 0.01) == []  # the overall bucket is empty ...
    wait = q.next_wake(0.01)
    assert wait is not None and wait <= 1 / 30
    assert send_all(q, 0.01 + wait) == [red_flag]  # ... and the very next token is safety's
    assert [t.chat for t in send_all(q, 0.01 + wait + 1 / 30)] == [11]  # then the replies, in order


def test_safety_overtakes_its_own_chats_queue_and_drops_its_tidy_edits() -> None:
    q, drops = queue(30)
    reply = push(q, 7, REPLY, 0.0)
    tidy = push(q, 7, TIDY, 0.0, counts_for_chat=False)
    bulk = push(q, 7, BULK, 0.0)
    stop = push(q, 7, SAFETY, 0.0)
    assert drops == [(tidy, "safety first")]
    order = []
    for step in range(10):
        order += send_all(q, step * 1.0)
    assert order == [stop, reply, bulk]


def test_a_chats_messages_keep_their_order_one_at_a_time_about_one_a_second() -> None:
    q, _ = queue(30)
    mine = [push(q, 1, REPLY, 0.0) for _ in range(6)]
    others = [push(q, chat, REPLY, 0.0) for chat in range(2, 6)]
    granted = q.grant(0.0)
    assert mine[0] in granted and mine[1] not in granted  # one call of a chat in flight at once
    assert set(others) <= set(granted)
    times: dict[Ticket, float] = {}
    now = 0.0
    for ticket in granted:
        times[ticket] = now
        q.done(ticket)
    while len(times) < 10:
        wait = q.next_wake(now)
        assert wait is not None
        now += max(wait, 0.001)
        for ticket in send_all(q, now):
            times[ticket] = now
    assert sorted(mine, key=times.__getitem__) == mine
    gaps = [times[b] - times[a] for a, b in itertools.pairwise(mine[1:])]
    assert all(gap >= 0.99 for gap in gaps)  # a burst of 2, then ~1 a second


def test_edits_take_no_token_of_the_chat() -> None:
    q, _ = queue(30)
    for _ in range(2):
        push(q, 1, REPLY, 0.0)
    push(q, 1, TIDY, 0.0, counts_for_chat=False)
    push(q, 1, REPLY, 0.0)
    granted: list[Ticket] = []
    for _ in range(4):
        granted += send_all(q, 0.0)
    assert [t.priority for t in granted] == [REPLY, REPLY, TIDY]  # the chat's burst of 2, the edit
    assert send_all(q, 1.0)[0].priority is REPLY


def test_tidy_edits_are_dropped_when_the_budget_is_short() -> None:
    q, drops = queue(30)  # more than 2 s of queued work (60 calls) ahead: not worth a tidy-up
    for chat in range(100):
        push(q, chat, REPLY, 0.0)
    late = q.ticket(500, TIDY, 0.0, counts_for_chat=False)
    assert not q.push(late)
    assert drops == [(late, "budget short")]
    assert q.queued(TIDY) == 0


def test_tidy_edits_are_merged_and_given_up_when_they_waited_too_long() -> None:
    q, drops = queue(30, tidy_max_wait=5.0)
    blocker = push(q, 1, REPLY, 0.0)
    first = push(q, 1, TIDY, 0.0, counts_for_chat=False, merge_key=(1, 42))
    second = push(q, 1, TIDY, 0.1, counts_for_chat=False, merge_key=(1, 42))
    assert drops == [(first, "merged")]
    assert q.grant(0.1) == [blocker]  # ... and its answer takes a long time
    q.done(blocker)
    assert q.grant(6.0) == []
    assert drops[-1] == (second, "waited too long")


def test_a_full_queue_drops_tidy_edits_first_then_refuses_all_but_safety() -> None:
    q, drops = queue(1, max_queued=3, tidy_backlog_seconds=100)
    tidy = push(q, 1, TIDY, 0.0, counts_for_chat=False)
    push(q, 2, REPLY, 0.0)
    push(q, 3, REPLY, 0.0)
    push(q, 4, BULK, 0.0)  # makes room by dropping the tidy edit
    assert drops == [(tidy, "queue full")]
    refused = q.ticket(5, REPLY, 0.0)
    assert not q.push(refused)
    assert q.push(q.ticket(6, SAFETY, 0.0))  # never refused
    assert q.queued() == 4


def test_a_429_for_one_chat_pauses_that_chat_only() -> None:
    q, _ = queue(30)
    a1 = push(q, 1, REPLY, 0.0)
    a2 = push(q, 1, REPLY, 0.0)
    assert q.grant(0.0) == [a1]
    assert not q.retry(a1, 0.0, 3.0)  # Telegram: chat 1, retry after 3 s
    b = push(q, 2, REPLY, 0.5)
    assert send_all(q, 0.5) == [b]  # other chats carry on
    assert send_all(q, 2.9) == []
    assert send_all(q, 3.0) == [a1]  # the retried call first, the chat's order kept
    assert send_all(q, 4.0) == [a2]


def test_429s_from_several_chats_at_once_pause_everything() -> None:
    q, _ = queue(30)
    tickets = [push(q, chat, REPLY, 0.0) for chat in (1, 2, 3)]
    later = push(q, 4, REPLY, 0.0)
    assert q.grant(0.0) == [*tickets, later]
    for ticket in tickets[:2]:
        assert not q.retry(ticket, 0.1, 2.0)
    assert q.retry(tickets[2], 0.2, 2.0)  # the third chat within a second: the bot's limit
    q.done(later)
    fresh = push(q, 5, SAFETY, 0.3)
    assert send_all(q, 1.0) == []  # nothing goes, not even safety, while Telegram says wait
    assert q.next_wake(1.0) == pytest.approx(1.2)
    assert send_all(q, 2.2) == [fresh, *tickets]


def test_zero_rate_paces_nothing_but_still_orders() -> None:
    q, _ = queue(0)
    tickets = [push(q, 1, REPLY, 0.0) for _ in range(5)]
    granted: list[Ticket] = []
    for _ in range(5):
        granted += send_all(q, 0.0)
    assert granted == tickets


def test_groups_and_usernames_are_paced_as_groups() -> None:
    q, _ = queue(30)
    for chat in ("@news", -100, 5):
        for _ in range(3):
            q.push(q.ticket(chat, REPLY, 0.0))  # type: ignore[arg-type]
    assert len(send_all(q, 0.0)) == 3
    assert len(send_all(q, 0.0)) == 3  # a burst of two each
    assert [t.chat for t in send_all(q, 1.0)] == [5]  # a private chat: one a second
    assert send_all(q, 2.9) == []  # groups: 20 a minute
    assert {t.chat for t in send_all(q, 3.01)} == {"@news", -100}


def test_idle_chats_are_forgotten() -> None:
    q, _ = queue(30)
    for chat in range(50):
        push(q, chat, REPLY, 0.0)
    send_all(q, 0.0)
    assert q.chats() == 50
    for second in range(1, 10):  # ten a third of a second: all out after ~2 s
        send_all(q, second / 3)
    assert q.queued() == 0
    send_all(q, 20.0)
    assert q.chats() == 0


# ------------------------------------------------------------------ SendScheduler
class FakeTime:
    """Virtual monotonic time: sleepers wake only when the test moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ids += 1
        heapq.heappush(self._sleepers, (self.now + seconds, self._ids, future))
        await future

    async def run_until(self, done: Callable[[], bool], limit: float = 120.0,
                        step: float = 1 / 300) -> None:
        """Move time in small steps, letting everything run between them, until ``done()``."""
        end = self.now + limit
        await settle()
        while not done():
            assert self.now < end, "timed out in virtual time"
            self.now += step
            while self._sleepers and self._sleepers[0][0] <= self.now:
                future = heapq.heappop(self._sleepers)[2]
                if not future.done():
                    future.set_result(None)
            await settle()


class FakeApi:
    """The callback PTB would pass: records calls; ``fail`` maps chat ids to 429 answers."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.calls: list[tuple[str, object, float]] = []
        self.fail: dict[object, list[int]] = {}

    def texts(self) -> list[object]:
        return [text for _, text, _ in self.calls]

    def request(self, endpoint: str, data: dict[str, Any]) -> Any:
        async def call() -> dict[str, Any]:
            chat = data.get("chat_id")
            retry = self.fail.get(chat)
            if retry:
                raise RetryAfter(retry.pop(0))
            self.calls.append((endpoint, data.get("text", chat), self.clock.now))
            return {"ok": True}
        return call


def call(s: SendScheduler, api: FakeApi, endpoint: str, data: dict[str, Any],
         lane: Lane | None = None) -> asyncio.Task[Any]:
    return asyncio.ensure_future(
        s.process_request(api.request(endpoint, data), (), {}, endpoint, data, lane))


def send(s: SendScheduler, api: FakeApi, chat: int, text: str,
         lane: Lane | None = None) -> asyncio.Task[Any]:
    return call(s, api, "sendMessage", {"chat_id": chat, "text": text}, lane)


async def settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def all_done(clock: FakeTime, tasks: list[asyncio.Task[Any]], limit: float = 120.0) -> None:
    await clock.run_until(lambda: all(t.done() for t in tasks), limit)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def scheduler(clock: FakeTime) -> AsyncIterator[SendScheduler]:
    s = SendScheduler(30, clock=clock, sleep=clock.sleep)
    await s.initialize()
    yield s
    closing = asyncio.ensure_future(s.shutdown())
    await all_done(clock, [closing])
    await closing


async def test_scheduler_sends_safety_next_while_a_thousand_replies_wait(
        clock: FakeTime, scheduler: SendScheduler) -> None:
    api = FakeApi(clock)
    replies = [send(scheduler, api, chat, f"welcome {chat}") for chat in range(1, 1001)]
    await clock.run_until(lambda: len(api.calls) >= 100)
    mark, asked = len(api.calls), clock.now
    urgent = send(scheduler, api, 5000, "urgent care", Lane(SAFETY))
    await all_done(clock, [urgent])
    position = api.texts().index("urgent care")
    assert position == mark  # the very next call
    assert api.calls[position][2] - asked <= 1 / 30 + 0.01  # within the next token
    assert scheduler.queue.queued(REPLY) > 800
    await all_done(clock, replies)
    assert len(api.calls) == 1001


async def test_answer_callback_query_takes_no_budget_and_waits_for_nothing(clock: FakeTime) -> None:
    s = SendScheduler(1, clock=clock, sleep=clock.sleep)
    api = FakeApi(clock)
    await s.initialize()
    queued = [send(s, api, chat, "x") for chat in range(20)]
    await settle()
    answer = call(s, api, "answerCallbackQuery", {"callback_query_id": "1"})
    await settle()
    assert answer.done() and answer.result() == {"ok": True}  # no wait behind 20 messages
    assert s.queue.queued() == 19  # and it took no token from them
    await all_done(clock, queued, limit=30)
    await s.shutdown()


async def test_scheduler_pauses_only_the_flood_limited_chat(
        clock: FakeTime, scheduler: SendScheduler) -> None:
    api = FakeApi(clock)
    api.fail[1] = [5]
    start = clock.now
    limited = send(scheduler, api, 1, "a")
    await clock.run_until(lambda: scheduler.flood_waits == 1)
    other = send(scheduler, api, 2, "b")
    await all_done(clock, [other])
    assert clock.now - start < 0.1  # chat 2 did not wait for chat 1's pause
    await all_done(clock, [limited])
    assert api.texts() == ["b", "a"]
    assert api.calls[1][2] - start >= 5.0
    assert scheduler.global_pauses == 0


async def test_a_429_without_a_chat_pauses_every_chat(clock: FakeTime, scheduler: SendScheduler) -> None:
    api = FakeApi(clock)
    api.fail[None] = [4]
    start = clock.now
    commands = call(scheduler, api, "setMyCommands", {"commands": "[]"})
    await clock.run_until(lambda: scheduler.flood_waits == 1)
    message = send(scheduler, api, 9, "meanwhile")
    await all_done(clock, [commands, message])
    assert scheduler.global_pauses == 1
    assert all(at - start >= 4.0 for _, _, at in api.calls)  # the message waited it out too


async def test_global_429_from_several_chats_holds_back_the_others(
        clock: FakeTime, scheduler: SendScheduler) -> None:
    api = FakeApi(clock)
    for chat in (1, 2, 3):
        api.fail[chat] = [2]
    start = clock.now
    limited = [send(scheduler, api, chat, str(chat)) for chat in (1, 2, 3)]
    await clock.run_until(lambda: scheduler.flood_waits == 3)
    other = send(scheduler, api, 4, "4")
    await all_done(clock, [*limited, other])
    assert scheduler.global_pauses == 1
    assert all(at - start >= 2.0 for _, _, at in api.calls)  # chat 4 waited out the pause too


async def test_a_chats_calls_keep_their_order_through_the_scheduler(
        clock: FakeTime, scheduler: SendScheduler) -> None:
    api = FakeApi(clock)
    api.fail[1] = [1]  # a 429 on the first does not let the others pass it
    calls = [send(scheduler, api, 1, f"m{i}") for i in range(8)]
    await all_done(clock, calls)
    assert api.texts() == [f"m{i}" for i in range(8)]


async def test_tidy_edit_dropped_reaches_the_caller_as_send_dropped(
        clock: FakeTime, scheduler: SendScheduler) -> None:
    api = FakeApi(clock)
    backlog = [send(scheduler, api, chat, "x") for chat in range(200)]
    await settle()
    edit = call(scheduler, api, "editMessageReplyMarkup", {"chat_id": 999, "message_id": 5})
    await settle()
    assert edit.done() and isinstance(edit.exception(), SendDropped)
    await all_done(clock, backlog)


async def test_shutdown_fails_what_is_left_cleanly_and_refuses_new_calls(clock: FakeTime) -> None:
    s = SendScheduler(1, clock=clock, sleep=clock.sleep, drain_timeout=2.0)
    api = FakeApi(clock)
    await s.initialize()
    calls = [send(s, api, chat, "x") for chat in range(30)]
    await settle()
    closing = asyncio.ensure_future(s.shutdown())
    await all_done(clock, [closing, *calls], limit=5)
    results = [c.exception() or c.result() for c in calls]
    sent = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert sent and failed and all(isinstance(r, SendDropped) for r in failed)
    late = send(s, api, 1, "late")
    await settle()
    assert isinstance(late.exception(), SendDropped)


async def test_a_cancelled_caller_leaves_no_trace(clock: FakeTime) -> None:
    s = SendScheduler(1, clock=clock, sleep=clock.sleep)
    api = FakeApi(clock)
    await s.initialize()
    calls = [send(s, api, 1, str(i)) for i in range(3)]
    await settle()
    calls[1].cancel()
    await all_done(clock, calls, limit=10)
    assert calls[1].cancelled()
    assert api.texts() == ["0", "2"]
    assert s.queue.queued() == 0 and s.queue.busy() == 0
    await s.shutdown()
