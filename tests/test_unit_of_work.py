"""The unit of work: what one event changes is written in one transaction, all of it or none."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from back_care_guide.engine.events import LogSession, Send, Timer
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.safety.triage import Triage
from back_care_guide.store.errors import TooManyReminders
from back_care_guide.store.records import Conversation, Profile, SafetyEvent
from back_care_guide.store.repositories import MAX_REMINDERS_PER_USER
from back_care_guide.store.sqlite import SqliteStore
from back_care_guide.store.sqlite.repositories import SqliteTransaction
from back_care_guide.store.state import save_user_state
from tests.harness import ChatClient, ReminderCalls, make_runtime, stored_state
from tests.test_store_faults import FaultyStore

NOW = 1772431200.0
EVENT = SafetyEvent(NOW, "reported", "emergency", "saddle_numbness", "text")


class Boom(Exception):
    pass


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "bot.db")
    async with s.transaction() as tx:
        await save_user_state(tx, Conversation(1, "welcome", {"seq": 1}), Profile(1, "en"))
        await tx.reminders.add(1, ReminderRule(time(8, 0), False, "UTC"), NOW)
    yield s
    await s.close()


async def everything(store: SqliteStore) -> tuple[object, ...]:
    async with store.transaction() as tx:
        conv = await tx.conversations.get(1)
        return (conv and (conv.state, conv.ctx), await tx.timers.for_user(1), await tx.profiles.get(1),
                await tx.reminders.list(1), await tx.safety_events.for_user(1),
                await tx.sessions.since(1, 0), await tx.timers.pending())


async def test_a_failure_mid_transaction_leaves_nothing_half_written(store: SqliteStore) -> None:
    before = await everything(store)
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            conv = Conversation(1, "hold", {"seq": 2}, [Timer("release", NOW + 20, 1)])
            await save_user_state(tx, conv, Profile(1, "de", timezone="UTC"))
            await tx.reminders.add(1, ReminderRule(time(9, 0), False, "UTC"), NOW)
            await tx.reminders.delete_all(2)
            await tx.safety_events.add(1, EVENT)
            await tx.sessions.add(1, LogSession(NOW, NOW + 600, "completed", 5, 3))
            assert await tx.processed_updates.add(77, NOW)
            raise Boom  # e.g. the disk filled up half-way
    assert await everything(store) == before
    async with store.transaction() as tx:  # the store still works, and nothing of it stayed
        assert await tx.processed_updates.add(77, NOW)


async def test_a_refused_reminder_writes_nothing(store: SqliteStore) -> None:
    reminders = ReminderCalls(store)
    for hour in range(1, MAX_REMINDERS_PER_USER):
        await reminders.add(1, ReminderRule(time(8 + hour, 0), False, "UTC"), NOW)
    with pytest.raises(TooManyReminders):  # escaping the block: the whole unit is undone
        async with store.transaction() as tx:
            await tx.safety_events.add(1, EVENT)
            await tx.reminders.add(1, ReminderRule(time(20, 0), False, "UTC"), NOW)
    async with store.transaction() as tx:  # caught inside: the rest commits, the refused add left nothing
        await tx.safety_events.add(1, EVENT)
        with contextlib.suppress(TooManyReminders):
            await tx.reminders.add(1, ReminderRule(time(20, 0), False, "UTC"), NOW)
    assert len(await reminders.list(1)) == MAX_REMINDERS_PER_USER
    async with store.transaction() as tx:
        assert await tx.safety_events.for_user(1) == [EVENT]


async def test_transactions_take_turns(store: SqliteStore) -> None:
    """A body that does wait (it must not) still never shares its transaction with another."""
    order: list[str] = []

    async def slow() -> None:
        with contextlib.suppress(Boom):
            async with store.transaction() as tx:
                await tx.safety_events.add(1, EVENT)
                order.append("slow wrote")
                await asyncio.sleep(0.05)
                raise Boom

    async def quick() -> None:
        await asyncio.sleep(0.01)
        async with store.transaction() as tx:
            order.append("quick began")
            await tx.sessions.add(1, LogSession(NOW, NOW + 1, "stopped", None, None))

    await asyncio.gather(slow(), quick())
    assert order == ["slow wrote", "quick began"]
    async with store.transaction() as tx:
        assert await tx.safety_events.for_user(1) == []  # rolled back alone
        assert len(await tx.sessions.since(1, 0)) == 1


# ---------------------------------------------------------------- through the runtime


class CountingStore(SqliteStore):
    """Counts the transactions that wrote something."""

    writes = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        async with super().transaction() as tx:
            before = self._db.total_changes
            yield tx
            self.writes += self._db.total_changes != before


@pytest.fixture
async def counted(bundle: FlowBundle, triage: Triage, tmp_path: Path
                  ) -> AsyncIterator[tuple[ChatClient, CountingStore]]:
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db", time_scale=0.01,
                                      store=CountingStore)
    assert isinstance(runtime.store, CountingStore)
    await runtime.start()
    yield ChatClient(runtime, transport), runtime.store
    await runtime.close()


async def test_one_event_writes_once(counted: tuple[ChatClient, CountingStore]) -> None:
    """Before its first message goes out, an event has written once, and all of it is stored."""
    client, store = counted
    uid = client.user_id
    send = client.transport.send
    at_first_message: list[tuple[int, int, int]] = []  # writes, reminders, safety events

    async def noting_send(user_id: int, message: Send) -> int | None:
        if not at_first_message:
            async with store.transaction() as tx:
                at_first_message.append((store.writes, len(await tx.reminders.list(uid)),
                                         len(await tx.safety_events.for_user(uid))))
        return await send(user_id, message)

    client.transport.send = noting_send  # type: ignore[method-assign]

    async def first_message(step: Coroutine[Any, Any, None]) -> tuple[int, int, int]:
        before = store.writes
        at_first_message.clear()
        await step
        writes, reminders, safety_events = at_first_message[0]
        return writes - before, reminders, safety_events

    assert await first_message(client.start()) == (1, 0, 0)
    assert await first_message(client.command("timezone")) == (1, 0, 0)
    assert await first_message(client.send("UTC")) == (1, 0, 0)  # the zone, and the next question
    assert await first_message(client.command("remind", "08:00")) == (1, 1, 0)  # with the reminder
    # a red flag: the hold on the profile, the conversation and the safety event, before the advice
    assert await first_message(client.send("I can't feel anything between my legs")) == (1, 1, 1)
    _, profile = await stored_state(store, uid)
    assert profile is not None and profile.hold is not None


@pytest.fixture
async def faulty(bundle: FlowBundle, triage: Triage, tmp_path: Path
                 ) -> AsyncIterator[tuple[ChatClient, FaultyStore]]:
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db", time_scale=0.01,
                                      store=FaultyStore)
    assert isinstance(runtime.store, FaultyStore)
    await runtime.start()
    yield ChatClient(runtime, transport), runtime.store
    await runtime.close()


async def test_a_refused_event_is_retried_whole(faulty: tuple[ChatClient, FaultyStore]) -> None:
    client, store = faulty
    await client.command("timezone")
    await client.send("UTC")
    store.fail_writes = True
    await client.command("remind", "08:00")
    assert client.texts[-2].startswith("Reminder set")  # answered from memory, and told once
    assert "can't save your progress" in client.texts[-1]
    await client.send("I can't feel anything between my legs")
    assert client.saw("Get emergency help now")
    reminders = ReminderCalls(store)
    _, profile = await stored_state(store, client.user_id)
    assert await reminders.list(client.user_id) == [] and profile is not None and profile.hold is None
    store.fail_writes = False
    for _ in range(50):  # the background retry runs every couple of seconds
        await asyncio.sleep(0.1)
        if not client.runtime._unsaved:
            break
    _, profile = await stored_state(store, client.user_id)
    assert profile is not None and profile.hold is not None
    assert len(await reminders.list(client.user_id)) == 1
    async with store.transaction() as tx:  # written once, not once per attempt
        assert len(await tx.safety_events.for_user(client.user_id)) == 1


async def test_processed_updates_are_noted_once_and_forgotten_after_a_while(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        assert await tx.processed_updates.add(1, NOW)
        assert not await tx.processed_updates.add(1, NOW + 5)  # a re-delivery
        assert await tx.processed_updates.add(2, NOW + 10)
        assert await tx.processed_updates.forget_before(NOW + 10) == 1
        assert await tx.processed_updates.add(1, NOW + 20)  # forgotten: new again
        assert not await tx.processed_updates.add(2, NOW + 20)
