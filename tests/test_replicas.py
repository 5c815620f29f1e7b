"""Several processes on one PostgreSQL database, in one test process: two stores (or two
runtimes) on a fresh database stand for two replicas. What they must agree on: one replica
at a time handles a person, a red flag reaches the replica that is sending to them, a timer
whose replica died is fired by another, and fired once, an update is taken in once, and only
one process polls. (The same with real processes behind a proxy: tests/e2e/test_replicas_e2e.py.)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from back_care_guide.engine.events import Text, TimerFired
from back_care_guide.engine.runtime import OVERDUE_AFTER, OVERDUE_EVERY, URGENT_HOLD_WAIT, Runtime
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Triage
from back_care_guide.store import Store
from back_care_guide.store.coordination import Leadership
from back_care_guide.store.postgresql import PostgresStore
from back_care_guide.store.records import Timer
from back_care_guide.store.sqlite import SqliteStore
from tests.harness import ChatClient, RecordingTransport, make_runtime
from tests.test_flow import into_hold
from tests.test_preempt import BusyTransport

USER = 1_234_567_890_123
OTHER = 42
RELEASE = "slowly return your leg"


@pytest.fixture
async def two(fresh_postgres_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    one, other = PostgresStore.from_url(fresh_postgres_url), PostgresStore.from_url(fresh_postgres_url)
    try:
        yield one, other
    finally:
        await one.close()
        await other.close()


async def test_one_process_alone_coordinates_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    try:
        coordination = store.coordination
        assert not coordination.shared
        async with coordination.hold_user(USER, wait=0) as held, \
                coordination.hold_user(USER, wait=0) as again:
            assert held and again  # no other process to keep out
        assert await coordination.heartbeat(0.0) == 1
        assert not coordination.lead("polling", on_wait=lambda: None, poll=0.1).lost()
    finally:
        await store.close()


async def test_a_person_is_handled_by_one_replica_at_a_time(
        two: tuple[PostgresStore, PostgresStore]) -> None:
    one, other = two
    async with one.coordination.hold_user(USER, wait=1.0) as held:
        assert held
        started = time.monotonic()
        async with other.coordination.hold_user(USER, wait=0.3) as second:
            assert not second  # waited its time, then goes on without the hold
        assert time.monotonic() - started >= 0.25
        async with other.coordination.hold_user(OTHER, wait=0.3) as someone_else:
            assert someone_else  # other people are not held up
        waiting = asyncio.create_task(_hold_once(other, USER, wait=5.0))
        await asyncio.sleep(0.2)
        assert not waiting.done()
    assert await asyncio.wait_for(waiting, 5)  # taken as soon as the first let go


async def _hold_once(store: Store, user_id: int, wait: float) -> bool:
    async with store.coordination.hold_user(user_id, wait=wait) as held:
        return held


async def test_a_red_flag_reaches_the_other_replicas_not_the_sender(
        two: tuple[PostgresStore, PostgresStore]) -> None:
    one, other = two
    heard: dict[str, list[int]] = {"one": [], "other": []}
    arrived = asyncio.Event()

    def on(name: str) -> Callable[[int], None]:
        def preempted(user_id: int) -> None:
            heard[name].append(user_id)
            arrived.set()
        return preempted

    await one.coordination.listen(on("one"))
    await other.coordination.listen(on("other"))
    await one.coordination.preempt(USER)
    await asyncio.wait_for(arrived.wait(), 5)
    await asyncio.sleep(0.2)  # the sender's own notification would have come by now
    assert heard == {"one": [], "other": [USER]}


async def test_replicas_count_each_other_by_heartbeat(
        two: tuple[PostgresStore, PostgresStore]) -> None:
    one, other = two
    assert await one.coordination.heartbeat(time.time()) == 1
    assert await other.coordination.heartbeat(time.time()) == 2
    assert await one.coordination.heartbeat(time.time()) == 2
    await other.close()  # a replica stopping takes itself out at once
    assert await one.coordination.heartbeat(time.time()) == 1


async def test_a_second_poller_stands_by_and_takes_over(
        two: tuple[PostgresStore, PostgresStore]) -> None:
    one, other = two
    first = await asyncio.to_thread(one.coordination.lead, "polling", on_wait=lambda: None,
                                    poll=0.1)
    waited = threading.Event()
    second: list[Leadership] = []

    def stand_by() -> None:
        second.append(other.coordination.lead("polling", on_wait=waited.set, poll=0.1))

    thread = threading.Thread(target=stand_by, daemon=True)
    thread.start()
    assert await asyncio.to_thread(waited.wait, 5)
    await asyncio.sleep(0.3)
    assert not second  # still standing by
    lost = threading.Event()
    first.watch(lost.set)
    released = time.monotonic()
    first.release()  # the first poller's connection is gone (as when its process dies)
    await asyncio.to_thread(thread.join, 5)
    assert second and time.monotonic() - released < 1.0
    assert not first.lost() and not lost.is_set()  # released on purpose: not "lost"
    second[0].release()


@pytest.fixture
async def runtimes(fresh_postgres_url: str, bundle: FlowBundle, triage: Triage
                   ) -> AsyncIterator[tuple[tuple[Runtime, RecordingTransport], ...]]:
    def opener(_path: Path) -> Store:
        return PostgresStore.from_url(fresh_postgres_url)

    made = tuple(make_runtime(bundle, triage, Path("unused"), time_scale=0.02, store=opener)
                 for _ in range(2))
    for runtime, _ in made:
        await runtime.start()
    try:
        yield made
    finally:
        for runtime, _ in made:
            await runtime.close()


async def test_a_hold_whose_replica_died_is_released_by_another(
        runtimes: tuple[tuple[Runtime, RecordingTransport], ...]) -> None:
    (dead, transport), (alive, other_transport) = runtimes
    client = ChatClient(dead, transport)
    await into_hold(client, "Standard")  # 20 s x 0.02: due in 0.4 s, armed in `dead` only
    assert dead._overdue is not None
    dead._overdue.cancel()  # it dies: no timer fires there any more
    dead._cancel(client.user_id)
    started = time.monotonic()
    survivor = ChatClient(alive, other_transport)
    await survivor.wait_for(RELEASE, timeout=5)
    assert time.monotonic() - started < 0.4 + OVERDUE_AFTER + OVERDUE_EVERY + 1.0
    assert not any(RELEASE in t.casefold() for t in client.texts)
    await survivor.click("No pain")  # the person goes on with the replica that is left
    assert "right knee" in survivor.texts[-1]


async def test_a_timer_fired_by_two_replicas_acts_once(
        runtimes: tuple[tuple[Runtime, RecordingTransport], ...]) -> None:
    (one, transport), (other, other_transport) = runtimes
    client = ChatClient(one, transport)
    await into_hold(client, "Standard")
    state = await _stored_timers(one, client.user_id)
    one._cancel(client.user_id)
    for timer in state:  # both replicas fire each timer at once
        one._fire(client.user_id, timer)
        other._fire(client.user_id, timer)
    await ChatClient(one, transport).wait_for(RELEASE, timeout=5)
    await asyncio.sleep(OVERDUE_AFTER + 2 * OVERDUE_EVERY)  # and the overdue look finds nothing
    texts = [m.text.casefold() for m in (*transport.sent, *other_transport.sent)]
    assert sum(RELEASE in t for t in texts) == 1
    assert sum("halfway" in t for t in texts) <= 1


async def _stored_timers(runtime: Runtime, user_id: int) -> list[Timer]:
    async with runtime.store.transaction() as tx:
        return list(await tx.timers.for_user(user_id))


async def test_an_update_is_taken_in_by_one_replica(
        runtimes: tuple[tuple[Runtime, RecordingTransport], ...]) -> None:
    (one, _), (other, _) = runtimes
    firsts = await asyncio.gather(one.first_delivery(777), other.first_delivery(777))
    assert sorted(firsts) == [False, True]
    assert not await one.first_delivery(777)


async def test_each_event_reads_what_the_other_replica_wrote(
        runtimes: tuple[tuple[Runtime, RecordingTransport], ...]) -> None:
    """A person whose taps land on alternate replicas goes through the screening as with one."""
    (one, transport), (other, other_transport) = runtimes
    on_one, on_other = ChatClient(one, transport), ChatClient(other, other_transport)
    await on_one.start()
    await on_one.click("let's start")
    prompt = on_one.last_prompt()
    await on_other.click("None of these", prompt)  # the other replica, with the first one's buttons
    assert "2 of 4" in on_other.texts[-1]
    await on_one.click("None of these", on_other.last_prompt())
    assert "3 of 4" in on_one.texts[-1]


async def test_a_red_flag_at_one_replica_drops_what_another_has_queued(
        fresh_postgres_url: str, bundle: FlowBundle, triage: Triage) -> None:
    """Replica A holds a person while their halfway note waits for the send budget; their red
    flag reaches replica B. B's answer does not wait for A's queue, and A's stale note never goes."""
    def opener(_path: Path) -> Store:
        return PostgresStore.from_url(fresh_postgres_url)

    (a, _), (b, b_transport) = (make_runtime(bundle, triage, Path("unused"), store=opener)
                                for _ in range(2))
    busy = BusyTransport()
    a.transport = busy
    for runtime in (a, b):
        await runtime.start()
    try:
        client = ChatClient(a, busy)
        await into_hold(client, "Longer")
        a._cancel(client.user_id)  # the test fires the timer itself
        async with a.store.transaction() as tx:
            halfway_timer = next(t for t in await tx.timers.for_user(client.user_id)
                                 if t.kind == "halfway")
        busy.busy = True
        halfway = asyncio.create_task(a.dispatch(
            TimerFired(client.user_id, "halfway", halfway_timer.epoch)))
        await asyncio.sleep(0.2)  # A holds the person; the note waits for the budget
        assert not halfway.done()
        started = time.monotonic()
        await asyncio.wait_for(b.dispatch(Text(client.user_id, "my leg went numb all the way down")),
                               2.0)
        assert time.monotonic() - started < URGENT_HOLD_WAIT + 0.5
        assert b_transport.sent[0].text.startswith("Get medical help now")
        await asyncio.wait_for(halfway, 2.0)  # A let go as soon as it heard
        busy.release.set()
        await asyncio.sleep(0.1)
        assert not any("Halfway" in m.text for m in busy.sent)  # the stale note never went
    finally:
        for runtime in (a, b):
            await runtime.close()
